//! `bgpd`: the Starling BGP daemon.
fn main() {
    eprintln!("bgpd: not implemented yet");
    std::process::exit(1);
}
