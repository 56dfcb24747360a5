//! Latency histograms as the JSON report carries them: HdrHistogram's own V2 serialized form,
//! deflate-compressed, in base64. Beside the quantiles, it lets `blip judge` and `blip merge`
//! recompute any quantile exactly from a saved report, and merge reports from several vantages.
//!
//! The encoding is HdrHistogram's, so other HdrHistogram libraries (Java, Go, Python) decode it too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

/// A histogram in µs as the report carries it: V2, deflate, base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail, and a histogram's own counts always encode.
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
        return String::new();
    }
    STANDARD.encode(bytes)
}

/// The most significant figures a histogram is read with. blip writes 3; each figure more
/// multiplies the counts array HdrHistogram allocates by ten (5 figures over the full `u64`
/// range is 50 MB), so a saved report cannot make one big.
pub const MAX_SIGNIFICANT_FIGURES: u32 = 3;

/// The largest decompressed V2 payload read: 1 MiB. With at most 3 significant figures over the
/// whole `u64` range a histogram has about 56 000 counts of at most 9 bytes each (500 KB), and
/// blip's own are a few KB; a header that claims more is not a histogram but a memory bomb
/// (the decoder would allocate what it claims before reading a byte of it).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// HdrHistogram's V2 cookies (with the word size 8 blip writes), deflated and plain.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_COOKIE: u32 = 0x1c84_9313;
/// The plain V2 header: cookie, payload length, normalizing offset, significant figures, lowest
/// and highest trackable values, integer to double ratio.
const V2_HEADER_BYTES: usize = 40;

/// The histogram `text` encodes, as [`encode`] wrote it; an error says what is wrong with it.
///
/// A saved report is untrusted: the header is checked and the payload inflated to at most
/// [`MAX_PAYLOAD_BYTES`] here, before HdrHistogram's deserializer (which allocates the payload
/// length and the counts array the header claims) sees them.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    use std::io::Read as _;
    let text = text.trim();
    // Deflate never grows data by more than a few bytes per 16 KB block; base64 by 4/3.
    if text.len() > (MAX_PAYLOAD_BYTES + MAX_PAYLOAD_BYTES / 64 + 1024) / 3 * 4 {
        return Err(format!("longer than a histogram of {} MiB", MAX_PAYLOAD_BYTES >> 20));
    }
    let bytes = STANDARD.decode(text).map_err(|e| format!("not base64: {e}"))?;
    let word =
        |bytes: &[u8], at: usize| -> Option<u32> { Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)) };
    if word(&bytes, 0) != Some(V2_COMPRESSED_COOKIE) {
        return Err("not an HdrHistogram (V2, deflate): its cookie is not V2 deflate".to_string());
    }
    if word(&bytes, 4).map(|n| n as usize) != Some(bytes.len() - 8) {
        return Err("not an HdrHistogram (V2, deflate): its length is not the data's".to_string());
    }
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[8..])
        .take((V2_HEADER_BYTES + MAX_PAYLOAD_BYTES + 1) as u64)
        .read_to_end(&mut plain)
        .map_err(|e| format!("not an HdrHistogram (V2, deflate): {e}"))?;
    let long =
        |bytes: &[u8], at: usize| -> Option<u64> { Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?)) };
    let (Some(cookie), Some(payload), Some(digits), Some(low), Some(high)) =
        (word(&plain, 0), word(&plain, 4), word(&plain, 12), long(&plain, 16), long(&plain, 24))
    else {
        return Err("not an HdrHistogram (V2, deflate): its header is cut short".to_string());
    };
    let Some(held) = plain.len().checked_sub(V2_HEADER_BYTES) else {
        return Err("not an HdrHistogram (V2, deflate): its header is cut short".to_string());
    };
    if cookie != V2_COOKIE {
        return Err("not an HdrHistogram (V2, deflate): its inner cookie is not V2".to_string());
    }
    if payload as usize > MAX_PAYLOAD_BYTES || payload as usize != held {
        return Err(format!(
            "not an HdrHistogram (V2, deflate): it claims {payload} bytes of counts where it holds {held} (at most {} MiB)",
            MAX_PAYLOAD_BYTES >> 20
        ));
    }
    if !(1..=MAX_SIGNIFICANT_FIGURES).contains(&digits) {
        return Err(format!("its significant figures ({digits}) are not 1 to {MAX_SIGNIFICANT_FIGURES}"));
    }
    if low == 0 || high < low.saturating_mul(2) {
        return Err(format!("its trackable range ({low} to {high}) is not a histogram's"));
    }
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| format!("not an HdrHistogram (V2, deflate): {e:?}"))?;
    // Merged histograms must take each other's values whatever their ranges.
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_round_trips_exactly_and_stays_small() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 2048, 3).unwrap();
        h.auto(true);
        // An hour at 10/s of latencies between 0.2 ms and 2 s.
        for i in 0..36_000u64 {
            h.record(200 + (i * 7919) % 2_000_000).unwrap();
        }
        let text = encode(&h);
        let back = decode(&text).unwrap();
        assert_eq!(back, h);
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q));
        }
        // About 1 KB: the report grows by a few KB per URL at most.
        assert!(text.len() < 4 * 1024, "{} bytes", text.len());
        assert!(decode("not base64!").unwrap_err().starts_with("not base64"));
        assert!(decode("aGVsbG8=").unwrap_err().starts_with("not an HdrHistogram"));
    }

    /// `h` encoded, with bytes of its plain V2 header overwritten: each edit is an offset and the
    /// bytes put there.
    fn forged(h: &Histogram<u64>, edits: &[(usize, &[u8])]) -> String {
        use std::io::{Read as _, Write as _};
        let bytes = STANDARD.decode(encode(h)).unwrap();
        let mut plain = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[8..]).read_to_end(&mut plain).unwrap();
        for (at, field) in edits {
            plain[*at..*at + field.len()].copy_from_slice(field);
        }
        let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        deflated.write_all(&plain).unwrap();
        let deflated = deflated.finish().unwrap();
        let mut out = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        out.extend((deflated.len() as u32).to_be_bytes());
        out.extend(deflated);
        STANDARD.encode(out)
    }

    #[test]
    fn a_header_that_claims_too_much_is_refused_before_anything_is_allocated() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 2048, 3).unwrap();
        h.record(1500).unwrap();
        assert_eq!(decode(&forged(&h, &[])).unwrap(), h, "forged without edits is the histogram");
        // A 4 GiB payload claimed in a few bytes.
        let err = decode(&forged(&h, &[(4, &u32::MAX.to_be_bytes())])).unwrap_err();
        assert!(err.contains("claims 4294967295 bytes of counts"), "{err}");
        let err = decode(&forged(&h, &[(12, &5u32.to_be_bytes())])).unwrap_err();
        assert!(err.contains("significant figures (5)"), "{err}");
        let err = decode(&forged(&h, &[(16, &0u64.to_be_bytes())])).unwrap_err();
        assert!(err.contains("trackable range"), "{err}");
        let err = decode(&forged(&h, &[(0, &0x1c84_9301u32.to_be_bytes())])).unwrap_err();
        assert!(err.contains("inner cookie"), "{err}");
        // A deflate bomb: megabytes of zeros in a few KB inflate no further than the bound.
        let mut bomb = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut bomb, &vec![0u8; 8 << 20]).unwrap();
        let bomb = bomb.finish().unwrap();
        let mut out = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        out.extend((bomb.len() as u32).to_be_bytes());
        out.extend(bomb);
        assert!(decode(&STANDARD.encode(out)).unwrap_err().contains("inner cookie"));
        assert!(decode(&"A".repeat(4 << 20)).unwrap_err().starts_with("longer than"));
    }
}
