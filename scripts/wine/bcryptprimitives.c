/* A stand-in for Windows' bcryptprimitives.dll under wine, whose own lacks ProcessPrng (which
 * Rust's standard library imports for its random numbers): the same bytes from RtlGenRandom
 * (advapi32's SystemFunction036). Used only by scripts/wine-smoke, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
