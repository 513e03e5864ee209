//! `.npy` helpers around `ndarray-npy`: a size check on the header before that crate allocates
//! what the header says, and a writer whose files are byte-identical to NumPy's.
//!
//! Reading is `ndarray-npy` (`input::read_npy`). It replaced a hand-written reader after a
//! benchmark: 10 M × 8 `f32` (320 MB, page cache warm), release build, 2-core sandbox,
//! 2026-12-06, medians of 6 alternating runs: hand-written 0.27 s, `ndarray-npy` 0.26 s
//! (ratio 0.96; command and runs in docs/benchmarks.md).
//!
//! Writing stays here: `ndarray-npy` writes `'shape': (2, 3)}` where NumPy's `np.save` writes
//! `'shape': (2, 3), }`, and this writer pads the header with spaces to a multiple of 64 bytes,
//! ending in `\n`, as NumPy does, so its files are byte-identical to NumPy's (tested below).

use std::io::{Read, Seek, SeekFrom, Write};

/// The longest header read: NumPy's `max_header_size` default (`numpy.lib.format`), far above
/// the ~120 bytes of a 2-D float header.
pub(crate) const MAX_HEADER_LEN: u64 = 10_000;

/// The deepest bracket nesting accepted in a header (a 2-D float header has 2).
const MAX_HEADER_DEPTH: usize = 3;

/// Checks the fixed prefix of a `.npy` file (magic, version, `HEADER_LEN`) and that the
/// header fits in the file's `file_len` bytes, then rewinds the reader to the start. Run
/// before `ndarray_npy`'s header parser, which allocates `HEADER_LEN` bytes (up to 4 GiB for
/// versions 2 and 3) as the file says and backtracks on deeply nested brackets: headers over
/// [`MAX_HEADER_LEN`] bytes or nested over 3 deep are refused.
pub(crate) fn check_prefix<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<(), String> {
    let mut prefix = [0u8; 12];
    let n = r.read(&mut prefix[..8]).map_err(|e| e.to_string())?;
    if n < 8 {
        return Err("too short for a .npy header".into());
    }
    if &prefix[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let (fixed, header_len) = match prefix[6] {
        1 => {
            r.read_exact(&mut prefix[8..10])
                .map_err(|_| "truncated header length")?;
            (10u64, u64::from(u16::from_le_bytes([prefix[8], prefix[9]])))
        }
        2 | 3 => {
            r.read_exact(&mut prefix[8..12])
                .map_err(|_| "truncated header length")?;
            let b = [prefix[8], prefix[9], prefix[10], prefix[11]];
            (12u64, u64::from(u32::from_le_bytes(b)))
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    if fixed + header_len > file_len {
        return Err(format!(
            "header length {header_len} runs past the end of the file ({file_len} bytes)"
        ));
    }
    if header_len > MAX_HEADER_LEN {
        return Err(format!(
            "header length {header_len} is over {MAX_HEADER_LEN} bytes (NumPy's own limit)"
        ));
    }
    // The header is a Python literal; ndarray-npy's parser backtracks on deeply nested
    // brackets (fuzzing found a 118-byte header that took over 10 s). A float matrix's header
    // nests two deep (`{… (rows, cols) …}`), so anything deeper is refused before parsing.
    let mut text = vec![0u8; usize::try_from(header_len).unwrap_or(0)];
    r.read_exact(&mut text).map_err(|_| "truncated header")?;
    let mut depth = 0usize;
    for b in &text {
        match b {
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > MAX_HEADER_DEPTH {
                    return Err(format!(
                        "header nests brackets deeper than {MAX_HEADER_DEPTH} (not a float \
                         matrix's header)"
                    ));
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    r.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `values` (`rows × cols`, C order) as a version 1.0 `.npy` file of little-endian
/// `f32` (`<f4`). Errors if `values.len() != rows · cols` or on an I/O failure.
pub(crate) fn write_f32<W: Write + ?Sized>(
    w: &mut W,
    rows: usize,
    cols: usize,
    values: &[f32],
) -> std::io::Result<()> {
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} values do not fill a {rows}×{cols} array", values.len()),
        ));
    }
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let len = u16::try_from(header.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "shape too long for a header",
        )
    })?;
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let mut buf = Vec::with_capacity(4 * 65_536);
    for chunk in values.chunks(65_536) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        w.write_all(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn prefix_check_refuses_what_cannot_be_a_header() {
        let bytes = npy("<f4", "(1, 1)", &[0u8; 4]);
        let mut r = std::io::Cursor::new(&bytes[..]);
        check_prefix(&mut r, bytes.len() as u64).unwrap();
        assert_eq!(r.position(), 0, "rewound");
        let short = |b: &[u8]| check_prefix(&mut std::io::Cursor::new(b), b.len() as u64);
        assert!(short(b"PK\x03\x04").unwrap_err().contains("short"));
        assert!(short(b"PK\x03\x04zzzzzz").unwrap_err().contains("magic"));
        // Version 2 with HEADER_LEN = 4 GiB − 1 in a 12-byte file: refused, nothing allocated.
        let huge = b"\x93NUMPY\x02\x00\xff\xff\xff\xff";
        assert!(short(huge).unwrap_err().contains("past the end"));
        assert!(
            short(b"\x93NUMPY\x07\x00zz")
                .unwrap_err()
                .contains("version 7")
        );
    }

    /// Found by the `cli_npy` fuzz target (fuzz/corpus/cli_npy/timeout-nested-brackets): 21
    /// nested `[` in a 118-byte header kept ndarray-npy's parser busy for over 10 s.
    #[test]
    fn deeply_nested_headers_are_refused_before_parsing() {
        let nested = format!(
            "{{'descr': '<f4', 'shape': {}1{}, }}",
            "[".repeat(21),
            "]".repeat(21)
        );
        let bytes = npy_raw(&nested);
        let got = check_prefix(&mut std::io::Cursor::new(&bytes[..]), bytes.len() as u64);
        assert!(got.unwrap_err().contains("nests"));
        let long = npy_raw(&" ".repeat(MAX_HEADER_LEN as usize + 1));
        let got = check_prefix(&mut std::io::Cursor::new(&long[..]), long.len() as u64);
        assert!(got.unwrap_err().contains("NumPy's own limit"));
        // A NumPy header (depth 2) passes.
        let ok = unhex(NUMPY_2X3);
        check_prefix(&mut std::io::Cursor::new(&ok[..]), ok.len() as u64).unwrap();
    }

    fn npy_raw(header: &str) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out
    }

    /// Bytes of `np.save(f, np.array([[1.5, -2.0, 0.0], [3.25, 1e-7, 65504.0]], dtype='<f4'))`,
    /// produced with NumPy 2.4.6 (`b.getvalue().hex()` of an `io.BytesIO`).
    const NUMPY_2X3: &str = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f726465 \
        72273a2046616c73652c20277368617065273a2028322c2033292c207d2020202020202020202020 \
        20202020202020202020202020202020202020202020202020202020202020202020202020202020 \
        202020202020200a0000c03f000000c0000000000000504095bfd63300e07f47";

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn writes_what_numpy_writes() {
        let values = [1.5f32, -2.0, 0.0, 3.25, 1e-7, 65504.0];
        let mut out = Vec::new();
        write_f32(&mut out, 2, 3, &values).unwrap();
        assert_eq!(out, unhex(NUMPY_2X3));
    }

    #[test]
    fn write_then_read_round_trips() {
        for (rows, cols) in [(1, 1), (3, 7), (1000, 8), (70_000, 2)] {
            let values: Vec<f32> = (0..rows * cols)
                .map(|i| (i as f32).sin() * 1e3 + f32::EPSILON)
                .collect();
            let mut out = Vec::new();
            write_f32(&mut out, rows, cols, &values).unwrap();
            assert_eq!(
                out.len() % 64,
                (rows * cols * 4) % 64,
                "header is 64-aligned"
            );
            // ndarray-npy (the reader the CLI uses) reads it back.
            let back =
                <ndarray::Array2<f32> as ndarray_npy::ReadNpyExt>::read_npy(&out[..]).unwrap();
            assert_eq!(back.dim(), (rows, cols));
            let back = back.into_raw_vec_and_offset().0;
            assert_eq!(back, values);
        }
        let err = write_f32(&mut Vec::new(), 2, 2, &[1.0; 3]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
