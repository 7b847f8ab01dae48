//! The configuration file `gws-conform.toml`: any flag of `run` by its long name
//! (`target = "https://…"`, `cases = 50`, `strict = true`, `only = ["CMP-01", "CMP-02"]`).
//!
//! Precedence: flag > environment > file > default. The file is applied before clap
//! parses, by setting each key's `GWS_*` environment variable when it is not already set
//! (every `run` flag has an environment twin), so clap's own flag > env > default order
//! does the rest. Secrets are refused: agents and passwords belong in `GWS_AGENTS`.

use std::path::{Path, PathBuf};

/// The default file name, looked up in the current directory.
pub const DEFAULT_FILE: &str = "gws-conform.toml";

/// The environment variable naming the file.
pub const ENV: &str = "GWS_CONFIG";

/// Keys refused because they hold secrets.
const SECRET_KEYS: &[&str] = &["agent", "agents"];

/// Which file to read: `--config FILE` (removed from `args`), else `GWS_CONFIG`, else
/// `./gws-conform.toml` when it exists. `Err` when `--config` has no value.
pub fn take_config_path(
    args: &mut Vec<std::ffi::OsString>,
    env: Option<String>,
) -> Result<Option<PathBuf>, String> {
    let mut i = 0;
    let mut found = None;
    while i < args.len() {
        let a = args[i].to_string_lossy().to_string();
        if a == "--config" {
            if i + 1 >= args.len() {
                return Err("--config needs a FILE".into());
            }
            found = Some(PathBuf::from(args.remove(i + 1)));
            args.remove(i);
            continue;
        }
        if let Some(v) = a.strip_prefix("--config=") {
            found = Some(PathBuf::from(v));
            args.remove(i);
            continue;
        }
        if a == "--" {
            break;
        }
        i += 1;
    }
    if found.is_some() {
        return Ok(found);
    }
    if let Some(e) = env.filter(|e| !e.is_empty()) {
        return Ok(Some(PathBuf::from(e)));
    }
    let p = PathBuf::from(DEFAULT_FILE);
    Ok(p.is_file().then_some(p))
}

/// The (environment variable, value) pairs the file `text` (shown as `path`) asks for,
/// mapped through the `env` of each argument of `run` (`run_cmd`) or `certify`
/// (`certify_cmd`). Errors name the file and the key.
pub fn env_from_file(
    run_cmd: &clap::Command,
    certify_cmd: Option<&clap::Command>,
    path: &Path,
    text: &str,
) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{shown}: not valid TOML: {e}"))?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let lower = key.to_ascii_lowercase();
        if SECRET_KEYS.contains(&lower.as_str()) || lower.contains("password") {
            return Err(format!(
                "{shown}: key {key:?}: credentials are never read from the configuration file; set GWS_AGENTS in the environment (user:password,...)"
            ));
        }
        let arg = std::iter::once(run_cmd)
            .chain(certify_cmd)
            .flat_map(|c| c.get_arguments())
            .find(|a| a.get_long() == Some(key.as_str()))
            .ok_or_else(|| {
                format!(
                    "{shown}: unknown key {key:?} (keys are the long flags of `gws-conform run` and `gws-conform certify`)"
                )
            })?;
        let env = arg.get_env().and_then(|e| e.to_str()).ok_or_else(|| {
            format!("{shown}: key {key:?}: this flag cannot be set from the file")
        })?;
        let v = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(i) => Ok(i.to_string()),
                    _ => Err(format!(
                        "{shown}: key {key:?}: a list holds strings or integers"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => {
                return Err(format!(
                    "{shown}: key {key:?}: a string, number, boolean or list"
                ));
            }
        };
        out.push((env.to_string(), v));
    }
    Ok(out)
}

/// Reads the file (see [`take_config_path`]) and sets each of its keys' environment
/// variables that is not already set. Call before clap parses; `Err` is a usage error
/// (exit 2) with the message to print.
pub fn apply(
    run_cmd: &clap::Command,
    certify_cmd: Option<&clap::Command>,
    args: &mut Vec<std::ffi::OsString>,
) -> Result<(), String> {
    let Some(path) = take_config_path(args, std::env::var(ENV).ok())? else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    for (env, value) in env_from_file(run_cmd, certify_cmd, &path, &text)? {
        if std::env::var_os(&env).is_none() {
            // SAFETY: called at the start of main, before any thread is started.
            unsafe { std::env::set_var(&env, value) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn cmd() -> clap::Command {
        clap::Command::new("run")
            .arg(Arg::new("target").long("target").env("GWS_TARGET"))
            .arg(Arg::new("cases").long("cases").env("GWS_CASES"))
            .arg(Arg::new("only").long("only").env("GWS_ONLY"))
            .arg(Arg::new("agent").long("agent").env("GWS_AGENTS"))
    }

    #[test]
    fn keys_map_to_env() {
        let v = env_from_file(
            &cmd(),
            None,
            Path::new("c.toml"),
            "target = \"https://x\"\ncases = 3\nonly = [\"CMP-01\", \"CMP-02\"]\n",
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                ("GWS_CASES".to_string(), "3".to_string()),
                ("GWS_ONLY".to_string(), "CMP-01,CMP-02".to_string()),
                ("GWS_TARGET".to_string(), "https://x".to_string()),
            ]
        );
    }

    #[test]
    fn certify_keys_are_read_too() {
        let certify = clap::Command::new("certify")
            .arg(Arg::new("statement").long("statement").env("GWS_STATEMENT"))
            .arg(Arg::new("seeds").long("seeds").env("GWS_SEEDS"));
        let text = "statement = \"st.toml\"\nseeds = 3\ntarget = \"https://x\"\n";
        let v = env_from_file(&cmd(), Some(&certify), Path::new("c.toml"), text).unwrap();
        assert_eq!(
            v,
            vec![
                ("GWS_SEEDS".to_string(), "3".to_string()),
                ("GWS_STATEMENT".to_string(), "st.toml".to_string()),
                ("GWS_TARGET".to_string(), "https://x".to_string()),
            ]
        );
        assert!(env_from_file(&cmd(), None, Path::new("c.toml"), text).is_err());
    }

    #[test]
    fn unknown_and_secret_keys_are_refused() {
        let e = env_from_file(&cmd(), None, Path::new("c.toml"), "tagret = 1").unwrap_err();
        assert!(e.contains("c.toml") && e.contains("\"tagret\""), "{e}");
        let e = env_from_file(&cmd(), None, Path::new("c.toml"), "agent = \"a:b\"").unwrap_err();
        assert!(e.contains("GWS_AGENTS") && !e.contains("a:b"), "{e}");
        let e = env_from_file(&cmd(), None, Path::new("c.toml"), "password = \"pw\"").unwrap_err();
        assert!(e.contains("credentials") && !e.contains("pw\""), "{e}");
        assert!(env_from_file(&cmd(), None, Path::new("c.toml"), "cases = ").is_err());
    }

    #[test]
    fn config_flag_is_taken_out_of_the_arguments() {
        let mut a: Vec<std::ffi::OsString> =
            ["gws-conform", "run", "--config", "f.toml", "--cases", "2"]
                .iter()
                .map(Into::into)
                .collect();
        let p = take_config_path(&mut a, Some("other.toml".into())).unwrap();
        assert_eq!(p, Some(PathBuf::from("f.toml")));
        assert_eq!(a.len(), 4);
        let mut b: Vec<std::ffi::OsString> =
            ["gws-conform", "run"].iter().map(Into::into).collect();
        assert_eq!(
            take_config_path(&mut b, Some("e.toml".into())).unwrap(),
            Some(PathBuf::from("e.toml"))
        );
        let mut c: Vec<std::ffi::OsString> =
            ["gws-conform", "--config"].iter().map(Into::into).collect();
        assert!(take_config_path(&mut c, None).is_err());
    }
}
