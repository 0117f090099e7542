//! What an OSD learns about its machine: the hostname (its CRUSH host)
//! and its disk's capacity (its CRUSH weight, in TiB, as Ceph does).

use std::ffi::CString;
use std::path::Path;

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).to_string();
    // CRUSH names take letters, digits, '-', '_' and '.'.
    let clean: String = name
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// Total bytes of the filesystem holding `path`.
pub fn capacity_bytes(path: &Path) -> Result<u64, String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: path has a NUL byte", path.display()))?;
    // SAFETY: statvfs fills the zeroed struct; c is a valid C string.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    if r != 0 {
        return Err(format!(
            "{}: statvfs: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(s.f_blocks as u64 * s.f_frsize as u64)
}

/// CRUSH weight (16.16) for a disk of `bytes`: its size in TiB, at least
/// the smallest weight the text form shows (0.001).
pub fn weight_for(bytes: u64) -> u32 {
    let tib = bytes as f64 / (1u64 << 40) as f64;
    let w = (tib * 65536.0).round() as u64;
    w.clamp(66, u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_tib() {
        assert_eq!(weight_for(1 << 40), 0x10000);
        assert_eq!(weight_for(4 << 40), 0x40000);
        assert_eq!(weight_for(1 << 20), 66);
        assert!(capacity_bytes(Path::new("/")).unwrap() > 0);
        assert!(!hostname().is_empty());
        assert!(capacity_bytes(Path::new("/no/such/dir"))
            .unwrap_err()
            .contains("/no/such/dir"));
    }
}
