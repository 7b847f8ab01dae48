//! The `gws-conform` command line.

mod cli;

use clap::{CommandFactory, Parser, Subcommand};

/// How the configuration file works (shown by `--help` and `run --help`).
const CONFIG_HELP: &str = "Configuration file: any flag of `run` by its long name, in TOML \
(e.g. target = \"https://gws.example\", cases = 50, strict = true, only = [\"CMP-01\"]): \
--config FILE, else $GWS_CONFIG, else ./gws-conform.toml. Precedence: flag > environment > \
file > default. Credentials are never read from the file (use GWS_AGENTS); an unknown key \
is a usage error (exit 2).";

const RUN_HELP: &str = "Exit codes: 0 conformant, 1 not conformant, 2 usage error, 3 harness or \
environment error, 130 stopped by SIGINT, 143 stopped by SIGTERM. The first SIGINT/SIGTERM \
starts no new case or step, lets requests in flight end (within --request-timeout), closes \
the open chats and writes the reports with what was judged (verdict INTERRUPTED; the cases \
never started are counted); a second one exits at once without a report. A target that stops \
answering (--give-up-after, --give-up-silence) or loses every notification session ends the \
run early: the rest is Error \"not run: ...\", exit 3 (1 when a Fail was judged).\n\nConfiguration file: any flag of `run` by its long name, in TOML \
(e.g. target = \"https://gws.example\", cases = 50, strict = true, only = [\"CMP-01\"]): \
--config FILE, else $GWS_CONFIG, else ./gws-conform.toml. Precedence: flag > environment > \
file > default. Credentials are never read from the file (use GWS_AGENTS); an unknown key \
is a usage error (exit 2).";

/// Contract-testing and conformance harness for the GWS API v2 Chat API (agent Complete).
#[derive(Debug, Parser)]
#[command(
    name = "gws-conform",
    version,
    about,
    after_help = CONFIG_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Certify a target (default: the embedded reference server) against the catalogue.
    #[command(after_help = RUN_HELP)]
    Run(Box<cli::run::RunArgs>),
    /// Run the embedded reference server on its own.
    Serve(cli::serve::ServeArgs),
    /// Re-run one saved failing case against a target and judge it again.
    Replay(cli::replay::ReplayArgs),
    /// Run the suite against the faultless embedded server and each of its faults.
    Selftest(cli::selftest::SelftestArgs),
    /// Merge the reports of the shards of one run.
    Merge(cli::merge::MergeArgs),
    /// Validate captured payloads against a schema.
    Validate(cli::validate::ValidateArgs),
    /// Export the contract for other tools: OpenAPI 3.1 or AsyncAPI 3.0 (JSON).
    Export(cli::export::ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// List the requirement catalogue.
    List,
    /// Judge live traffic (a reverse proxy) or a HAR recording against the contract.
    Observe(cli::observe::ObserveArgs),
    /// Write an Ed25519 key pair (PEM) for signing certificates (docs/certify.md).
    Keygen(cli::keygen::KeygenArgs),
    /// Certify a target under a conformance statement over K seeds and write a signed bundle.
    Certify(Box<cli::certify::CertifyArgs>),
    /// Verify a certificate bundle offline: signature, files, and its verdicts re-derived.
    Verify(cli::certify::VerifyArgs),
}

fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let full = Cli::command();
    let run_cmd = full
        .find_subcommand("run")
        .expect("the run subcommand exists");
    if let Err(e) = cli::config::apply(run_cmd, full.find_subcommand("certify"), &mut args) {
        eprintln!("gws-conform: {e}");
        std::process::exit(gws_conform::exit::USAGE);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                gws_conform::exit::USAGE
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        Command::Run(a) => cli::run::main(*a),
        Command::Serve(a) => cli::serve::main(a),
        Command::Replay(a) => cli::replay::main(a),
        Command::Selftest(a) => cli::selftest::main(a),
        Command::Merge(a) => cli::merge::main(a),
        Command::Validate(a) => cli::validate::main(a),
        Command::Observe(a) => cli::observe::main(a),
        Command::Export(a) => cli::export::main(a),
        Command::Keygen(a) => cli::keygen::main(a),
        Command::Certify(a) => cli::certify::main(*a),
        Command::Verify(a) => cli::certify::verify(a),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "gws-conform",
                &mut std::io::stdout(),
            );
            0
        }
        Command::List => {
            for r in gws_conform::spec::CATALOGUE {
                println!("{}\t{}\t{}", r.id, r.level.as_str(), r.text);
            }
            0
        }
    };
    std::process::exit(code);
}
