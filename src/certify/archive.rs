//! A bundle as one `.tar.gz`: the folder's files in a POSIX ustar archive (names under
//! one top folder, sorted, mode 0644, mtime 0: the same bundle gives the same bytes),
//! gzip-compressed. `verify` reads it back into a fresh folder and checks that folder as
//! any bundle; reading refuses what a bundle never holds (links, devices, absolute names,
//! `..`) and caps the sizes, so a hostile archive cannot write outside that folder or
//! fill the disk. Any tar reads the archive (`tar -xzf`); an archive re-made by GNU tar
//! (its long-name entries) or a POSIX tar (its `path` headers) reads too.

use super::bundle::BundleError;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// A file of an archive is refused beyond this size (a history of 100,000 events is a
/// few hundred MiB at most).
const MAX_FILE: u64 = 1 << 30;
/// The files of an archive together are refused beyond this size.
const MAX_TOTAL: u64 = 4 << 30;
/// An archive with more files than this is refused.
const MAX_FILES: usize = 1_000_000;

fn io(path: &Path, e: std::io::Error) -> BundleError {
    BundleError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

fn odd(path: &Path, why: impl std::fmt::Display) -> BundleError {
    BundleError::Archive {
        path: path.display().to_string(),
        error: why.to_string(),
    }
}

fn bad(path: &Path, why: impl std::fmt::Display) -> BundleError {
    odd(path, format!("not a bundle archive: {why}"))
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
fn files(dir: &Path) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let e = e.map_err(|e| io(&d, e))?;
            let p = e.path();
            let t = e.file_type().map_err(|e| io(&p, e))?;
            if t.is_dir() {
                todo.push(p);
            } else if t.is_file() {
                let rel = p.strip_prefix(dir).map_err(|e| odd(&p, e))?;
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            } else {
                return Err(odd(
                    &p,
                    "neither a file nor a folder: a bundle holds neither",
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Puts `n` as `width - 1` octal digits and a NUL into `field`.
fn octal(field: &mut [u8], n: u64) {
    let s = format!("{:0w$o}\0", n, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// The ustar header of a regular file `name` of `size` bytes; `None` when the name does
/// not fit (100 bytes, or a prefix of 155 and a name of 100 split at a `/`).
fn header(name: &str, size: u64) -> Option<[u8; 512]> {
    let b = name.as_bytes();
    let (prefix, rest): (&[u8], &[u8]) = if b.len() <= 100 {
        (&[], b)
    } else {
        let cut = (0..b.len())
            .rev()
            .find(|&i| b[i] == b'/' && i <= 155 && b.len() - i - 1 <= 100)?;
        (&b[..cut], &b[cut + 1..])
    };
    let mut h = [0u8; 512];
    h[..rest.len()].copy_from_slice(rest);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    // The checksum is taken with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&x| u64::from(x)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    Some(h)
}

/// Writes the bundle folder `dir` as the archive `out` (its files under a top folder
/// named as `dir`). Returns how many files it holds.
pub fn write_archive(dir: &Path, out: &Path) -> Result<usize, BundleError> {
    let top = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "bundle".into());
    let names = files(dir)?;
    let f = std::fs::File::create(out).map_err(|e| io(out, e))?;
    let mut gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::default());
    for n in &names {
        let path = dir.join(n);
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let full = format!("{top}/{n}");
        let h = header(&full, bytes.len() as u64)
            .ok_or_else(|| odd(&path, "its name is too long for a ustar archive"))?;
        gz.write_all(&h).map_err(|e| io(out, e))?;
        gz.write_all(&bytes).map_err(|e| io(out, e))?;
        let pad = (512 - bytes.len() % 512) % 512;
        gz.write_all(&vec![0u8; pad]).map_err(|e| io(out, e))?;
    }
    gz.write_all(&[0u8; 1024]).map_err(|e| io(out, e))?;
    let mut w = gz.finish().map_err(|e| io(out, e))?;
    w.flush().map_err(|e| io(out, e))?;
    Ok(names.len())
}

/// The text of a NUL-terminated header field.
fn field(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_octal(b: &[u8]) -> Option<u64> {
    let s = field(b);
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// `name` as a path inside the extraction folder, or why it cannot be one.
fn safe(name: &str) -> Result<PathBuf, String> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            _ => return Err(format!("entry {name:?} leaves the bundle folder")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("entry {name:?} has no name"));
    }
    Ok(out)
}

/// Reads `n` bytes (a multiple of 512 on the wire) from `r`.
fn take(r: &mut impl Read, n: u64, archive: &Path) -> Result<Vec<u8>, BundleError> {
    let mut buf = Vec::with_capacity(n.min(1 << 20) as usize);
    r.by_ref()
        .take(n)
        .read_to_end(&mut buf)
        .map_err(|e| bad(archive, e))?;
    if (buf.len() as u64) < n {
        return Err(bad(archive, "it ends inside an entry"));
    }
    let pad = (512 - n % 512) % 512;
    std::io::copy(&mut r.by_ref().take(pad), &mut std::io::sink()).map_err(|e| bad(archive, e))?;
    Ok(buf)
}

/// The `path` record of a POSIX extended header, if any.
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|l| {
        let (_, kv) = l.split_once(' ')?;
        kv.strip_prefix("path=").map(str::to_string)
    })
}

/// Extracts the archive `archive` into the empty folder `into` and returns the bundle's
/// folder in it (the archive's single top folder, or `into` itself).
pub fn extract_archive(archive: &Path, into: &Path) -> Result<PathBuf, BundleError> {
    let f = std::fs::File::open(archive).map_err(|e| io(archive, e))?;
    let mut r = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
    let (mut total, mut count) = (0u64, 0usize);
    let mut next_name: Option<String> = None;
    let mut tops: std::collections::BTreeSet<PathBuf> = Default::default();
    loop {
        let mut h = [0u8; 512];
        if let Err(e) = r.read_exact(&mut h) {
            return Err(bad(
                archive,
                format!("it ends without its end blocks ({e})"),
            ));
        }
        if h.iter().all(|&x| x == 0) {
            break;
        }
        let stored: u64 = h[..148]
            .iter()
            .chain(&h[156..])
            .map(|&x| u64::from(x))
            .sum::<u64>()
            + 8 * u64::from(b' ');
        if parse_octal(&h[148..156]) != Some(stored) {
            return Err(bad(archive, "a header's checksum is wrong"));
        }
        let size = parse_octal(&h[124..136]).ok_or_else(|| bad(archive, "a size is not octal"))?;
        let kind = h[156];
        let name = match next_name.take() {
            Some(n) => n,
            None => {
                let prefix = field(&h[345..500]);
                let base = field(&h[..100]);
                if prefix.is_empty() {
                    base
                } else {
                    format!("{prefix}/{base}")
                }
            }
        };
        match kind {
            // GNU long name, POSIX extended header: the name of the next entry.
            b'L' | b'x' => {
                let data = take(&mut r, size.min(64 * 1024), archive)?;
                next_name = if kind == b'L' {
                    Some(field(&data))
                } else {
                    pax_path(&data)
                };
                continue;
            }
            b'g' => {
                take(&mut r, size.min(64 * 1024), archive)?;
                continue;
            }
            b'5' => continue,
            b'0' | 0 => {}
            other => {
                return Err(bad(
                    archive,
                    format!(
                        "entry {name:?} is of type {:?} (a link or a device): a bundle holds files only",
                        other as char
                    ),
                ));
            }
        }
        let rel = safe(&name).map_err(|e| bad(archive, e))?;
        count += 1;
        total += size;
        if size > MAX_FILE || total > MAX_TOTAL || count > MAX_FILES {
            return Err(bad(
                archive,
                format!(
                    "entry {name:?}: more than a bundle holds (files of at most {MAX_FILE} bytes, {MAX_TOTAL} in all, {MAX_FILES} files)"
                ),
            ));
        }
        let bytes = take(&mut r, size, archive)?;
        let path = into.join(&rel);
        if path.exists() {
            return Err(bad(archive, format!("entry {name:?} is in it twice")));
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        if let Some(Component::Normal(t)) = rel.components().next() {
            tops.insert(PathBuf::from(t));
        }
    }
    // One top folder holding everything: the bundle is that folder.
    Ok(match tops.iter().next() {
        Some(t) if tops.len() == 1 && into.join(t).is_dir() => into.join(t),
        _ => into.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gws-archive-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_folder_goes_in_and_comes_out_the_same() {
        let d = tmp("roundtrip");
        let b = d.join("bundle");
        let deep = format!("runs/{}/histories", "x".repeat(90));
        std::fs::create_dir_all(b.join(&deep)).unwrap();
        std::fs::write(b.join("statement.toml"), "a = 1\n").unwrap();
        let long = format!("{deep}/{}.ndjson", "y".repeat(80));
        std::fs::write(b.join(&long), vec![7u8; 1500]).unwrap();
        let a = d.join("bundle.tar.gz");
        assert_eq!(write_archive(&b, &a).unwrap(), 2);
        let first = std::fs::read(&a).unwrap();
        write_archive(&b, &a).unwrap();
        assert_eq!(
            std::fs::read(&a).unwrap(),
            first,
            "the same bundle, the same bytes"
        );
        let out = d.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let got = extract_archive(&a, &out).unwrap();
        assert_eq!(got, out.join("bundle"));
        assert_eq!(std::fs::read(got.join(&long)).unwrap(), vec![7u8; 1500]);
        assert_eq!(
            std::fs::read_to_string(got.join("statement.toml")).unwrap(),
            "a = 1\n"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    fn archive_of(entries: &[(&str, u8, &[u8])]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, kind, data) in entries {
            let mut h = header(name, data.len() as u64).unwrap();
            h[156] = *kind;
            h[148..156].copy_from_slice(b"        ");
            let sum: u64 = h.iter().map(|&x| u64::from(x)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            tar.extend_from_slice(&h);
            tar.extend_from_slice(data);
            tar.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
        }
        tar.extend([0u8; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn what_a_bundle_never_holds_is_refused_and_nothing_lands_outside() {
        let d = tmp("hostile");
        for (tag, entries, says) in [
            (
                "dotdot",
                vec![("b/../../evil", b'0', &b"x"[..])],
                "leaves the bundle folder",
            ),
            (
                "absolute",
                vec![("/tmp/evil", b'0', &b"x"[..])],
                "leaves the bundle folder",
            ),
            (
                "symlink",
                vec![("b/link", b'2', &b""[..])],
                "a link or a device",
            ),
            (
                "twice",
                vec![("b/f", b'0', &b"1"[..]), ("b/f", b'0', &b"2"[..])],
                "twice",
            ),
        ] {
            let a = d.join(format!("{tag}.tar.gz"));
            std::fs::write(&a, archive_of(&entries)).unwrap();
            let out = d.join(format!("out-{tag}"));
            std::fs::create_dir_all(&out).unwrap();
            let e = extract_archive(&a, &out).unwrap_err().to_string();
            assert!(e.contains(says), "{tag}: {e}");
            assert!(
                e.contains(&format!("{tag}.tar.gz")),
                "{tag}: names the archive: {e}"
            );
        }
        assert!(!d.join("evil").exists() && !Path::new("/tmp/evil").exists());
        // Not gzip at all; cut short.
        let a = d.join("plain.tar.gz");
        std::fs::write(&a, b"not an archive").unwrap();
        assert!(
            extract_archive(&a, &d)
                .unwrap_err()
                .to_string()
                .contains("not a bundle archive")
        );
        let whole = archive_of(&[("b/f", b'0', &[1u8; 4000][..])]);
        let mut gz = flate2::read::GzDecoder::new(&whole[..]);
        let mut tar = Vec::new();
        gz.read_to_end(&mut tar).unwrap();
        let mut cut = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        cut.write_all(&tar[..2000]).unwrap();
        std::fs::write(&a, cut.finish().unwrap()).unwrap();
        let out = d.join("out-cut");
        std::fs::create_dir_all(&out).unwrap();
        assert!(
            extract_archive(&a, &out)
                .unwrap_err()
                .to_string()
                .contains("ends inside an entry")
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
