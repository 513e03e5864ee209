//! A small streaming reader and writer for `.npy` files holding a 2-D `f32`/`f64` C-order
//! array.
//!
//! Format (NumPy NEP 1): magic `\x93NUMPY`, version byte pair, header length (u16 for 1.0,
//! u32 for 2.0/3.0, little-endian), an ASCII Python dict
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (U, F), }`, then the raw data.
//! The data are read in chunks straight into the output vector: one pass, no second copy.
//! The writer pads the header with spaces to a multiple of 64 bytes, ending in `\n`, as NumPy's
//! `np.save` does, so its files are byte-identical to NumPy's.

use std::io::{Read, Write};

/// Element type of the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) dtype: Dtype,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

/// Reads and checks the header; the reader is left at the first data byte.
pub(crate) fn read_header<R: Read>(r: &mut R) -> Result<Header, String> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| "too short for a .npy header".to_string())?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|_| "truncated header length")?;
            usize::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|_| "truncated header length")?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    if len > 1 << 20 {
        return Err(format!("header length {len} is implausible"));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).map_err(|_| "truncated header")?;
    let text = String::from_utf8_lossy(&text);
    let field = |key: &str| -> Result<String, String> {
        let at = text
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("header has no '{key}'"))?;
        let rest = &text[at + key.len() + 2..];
        let rest = rest
            .trim_start()
            .strip_prefix(':')
            .unwrap_or(rest)
            .trim_start();
        Ok(rest.to_string())
    };
    let descr = field("descr")?;
    let dtype = if descr.starts_with("'<f4'") {
        Dtype::F32
    } else if descr.starts_with("'<f8'") {
        Dtype::F64
    } else {
        let shown: String = descr.chars().take_while(|&c| c != ',').collect();
        return Err(format!(
            "dtype {shown} is not supported (need little-endian float32 '<f4' or float64 '<f8')"
        ));
    };
    if field("fortran_order")?.starts_with("True") {
        return Err("Fortran-order arrays are not supported (save with C order)".into());
    }
    let shape = field("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("malformed shape")?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("malformed shape ({inner})"))
        })
        .collect::<Result<_, _>>()?;
    match dims[..] {
        [rows, cols] => Ok(Header { dtype, rows, cols }),
        _ => Err(format!(
            "shape ({inner}) is not 2-D (need customers × funds)"
        )),
    }
}

/// Reads `count` little-endian values of `width` bytes, converting each with `convert`.
pub(crate) fn read_values<R: Read, T, const W: usize>(
    r: &mut R,
    count: usize,
    convert: impl Fn([u8; W]) -> T,
) -> Result<Vec<T>, String> {
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; W * 65_536];
    while out.len() < count {
        let n = (count - out.len()).min(65_536);
        r.read_exact(&mut buf[..n * W]).map_err(|_| {
            format!(
                "data end after {} of {count} values (file truncated?)",
                out.len()
            )
        })?;
        out.extend(buf[..n * W].chunks_exact(W).map(|c| {
            let mut a = [0u8; W];
            a.copy_from_slice(c);
            convert(a)
        }));
    }
    let mut extra = [0u8; 1];
    if r.read(&mut extra).map_err(|e| e.to_string())? != 0 {
        return Err(format!("more data than the shape's {count} values"));
    }
    Ok(out)
}

/// Writes `values` (`rows × cols`, C order) as a version 1.0 `.npy` file of little-endian
/// `f32` (`<f4`). Errors if `values.len() != rows · cols` or on an I/O failure.
pub(crate) fn write_f32<W: Write>(
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
    fn parses_headers_and_values() {
        let data: Vec<u8> = [1.5f32, 2.0, -3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = npy("<f4", "(2, 2)", &data);
        let mut r = &bytes[..];
        let h = read_header(&mut r).unwrap();
        assert_eq!(
            h,
            Header {
                dtype: Dtype::F32,
                rows: 2,
                cols: 2
            }
        );
        let v = read_values::<_, f32, 4>(&mut r, 4, f32::from_le_bytes).unwrap();
        assert_eq!(v, vec![1.5, 2.0, -3.0, 4.0]);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for (descr, shape, want) in [
            ("<i8", "(2, 2)", "dtype"),
            (">f8", "(2, 2)", "dtype"),
            ("<f8", "(4,)", "not 2-D"),
            ("<f8", "(2, 2, 1)", "not 2-D"),
        ] {
            let bytes = npy(descr, shape, &[]);
            let err = read_header(&mut &bytes[..]).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        assert!(
            read_header(&mut &b"PK\x03\x04"[..])
                .unwrap_err()
                .contains("short")
        );
        assert!(
            read_header(&mut &b"PK\x03\x04zzzzzz"[..])
                .unwrap_err()
                .contains("magic")
        );
        let bytes = npy("<f8", "(2, 2)", &[0u8; 16]);
        let mut r = &bytes[..];
        read_header(&mut r).unwrap();
        assert!(
            read_values::<_, f64, 8>(&mut r, 4, f64::from_le_bytes)
                .unwrap_err()
                .contains("truncated")
        );
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
            let mut r = &out[..];
            let h = read_header(&mut r).unwrap();
            assert_eq!(
                h,
                Header {
                    dtype: Dtype::F32,
                    rows,
                    cols
                }
            );
            let back = read_values::<_, f32, 4>(&mut r, rows * cols, f32::from_le_bytes).unwrap();
            assert_eq!(back, values);
        }
        let err = write_f32(&mut Vec::new(), 2, 2, &[1.0; 3]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
