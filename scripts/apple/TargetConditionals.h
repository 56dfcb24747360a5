/* The two answers ring's C asks of Apple's TargetConditionals.h, for scripts/check-targets,
 * which compiles ring for macOS here without Apple's SDK. Never shipped. */
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
