//! `bgpd`: the Starling BGP daemon.
//!
//! ```text
//! bgpd [--config FILE] [--check] [--foreground]
//! ```
//! Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use bgpd::daemon::Daemon;

#[global_allocator]
static ALLOCATOR: bgpd::alloc::Allocator = bgpd::alloc::Allocator;

const DEFAULT_CONFIG: &str = "/etc/starling/bgpd.toml";
const USAGE: &str = "usage: bgpd [--config FILE] [--check] [--foreground]";

struct Args {
    config: PathBuf,
    check: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: PathBuf::from(DEFAULT_CONFIG),
        check: false,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--config" | "-c" => args.config = iter.next().ok_or("--config needs a file")?.into(),
            "--check" => args.check = true,
            // The daemon never forks; the flag is accepted for service files that pass it.
            "--foreground" | "-f" => {}
            "--help" | "-h" => return Err(USAGE.to_owned()),
            "--version" | "-V" => {
                println!("bgpd {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = match config::Config::load(&args.config) {
        Ok(config) => config,
        Err(errors) => {
            for error in errors.iter() {
                eprintln!("{error}");
            }
            eprintln!(
                "bgpd: {} configuration error(s) in {}",
                errors.len(),
                args.config.display()
            );
            return ExitCode::from(2);
        }
    };
    if args.check {
        return check_datastore(&args.config, &config);
    }
    bgpd::logging::init(config.global.log_format, config.global.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bgpd: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let daemon = Daemon::new(args.config, config)?;
        daemon.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "bgpd failed");
            eprintln!("bgpd: {error}");
            ExitCode::from(1)
        }
    }
}

/// `--check` with `[etcd]` configured: the file is valid; is the datastore reachable?
fn check_datastore(path: &std::path::Path, config: &config::Config) -> ExitCode {
    let Some(etcd) = &config.etcd else {
        println!("{}: configuration ok", path.display());
        return ExitCode::SUCCESS;
    };
    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| {
            runtime.block_on(config::etcd::probe(etcd, &config::etcd::Timing::default()))
        });
    match probe {
        Ok(Ok(revision)) => {
            println!(
                "{}: configuration ok; etcd reachable at revision {}",
                path.display(),
                revision.0
            );
            ExitCode::SUCCESS
        }
        Ok(Err(error)) => {
            eprintln!(
                "{}: configuration ok, but etcd is not reachable: {error}",
                path.display()
            );
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("bgpd: cannot start the runtime: {error}");
            ExitCode::from(1)
        }
    }
}
