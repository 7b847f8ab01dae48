//! `gws-conform keygen --out DIR`: an Ed25519 key pair for signing certificates.

use gws_conform::certify::SigningKey;
use gws_conform::exit;
use std::path::PathBuf;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The folder to write `gws-conform.key` (private, mode 0600) and `gws-conform.pub` to
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Replace a key pair already in the folder
    #[arg(long)]
    pub force: bool,
}

/// Writes the pair; prints the public key's path and fingerprint.
pub fn main(args: KeygenArgs) -> i32 {
    let key_path = args.out.join("gws-conform.key");
    let pub_path = args.out.join("gws-conform.pub");
    for p in [&key_path, &pub_path] {
        if p.exists() && !args.force {
            eprintln!(
                "gws-conform keygen: {} exists; keep it, or pass --force to replace the pair",
                p.display()
            );
            return exit::USAGE;
        }
    }
    let key = match SigningKey::generate() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("gws-conform keygen: {e}");
            return exit::HARNESS;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("gws-conform keygen: {}: {e}", args.out.display());
        return exit::HARNESS;
    }
    if let Err(e) = write_private(&key_path, &key.to_pem()) {
        eprintln!("gws-conform keygen: {}: {e}", key_path.display());
        return exit::HARNESS;
    }
    if let Err(e) = std::fs::write(&pub_path, key.public().to_pem()) {
        eprintln!("gws-conform keygen: {}: {e}", pub_path.display());
        return exit::HARNESS;
    }
    println!("private key: {} (keep it secret)", key_path.display());
    println!("public key:  {}", pub_path.display());
    println!("fingerprint: {}", key.public().fingerprint());
    0
}

/// Writes `text` readable by its owner only (on Unix: created 0600, never wider).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(path);
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)?.write_all(text.as_bytes())
}
