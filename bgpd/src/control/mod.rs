//! The control socket: a Unix socket (mode 0660) on which `bgpctl` sends one request per
//! connection. Connections are served by their own tasks; the request goes to the daemon's
//! loop, which owns the state, and the answer comes back as JSON lines.

pub mod protocol;
pub mod time;

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use protocol::{Failure, Request};

/// The longest request line accepted.
const MAX_REQUEST: usize = 4096;

/// Chunks of lines a streamed answer may have in flight: the producer (the RIB task) waits
/// for the client to read before it produces more, so a listing of a million routes is never
/// held whole.
pub const STREAM_CHUNKS: usize = 8;

/// A request on its way to the daemon, with where to send the answer.
#[derive(Debug)]
pub struct ControlRequest {
    pub request: Request,
    pub reply: oneshot::Sender<Answer>,
}

/// An answer: JSON lines at once, or chunks of them as they are produced (the stream ends when
/// its sender is dropped).
#[derive(Debug)]
pub enum Answer {
    Lines(Vec<String>),
    Stream(mpsc::Receiver<Vec<String>>),
}

impl Answer {
    /// A bounded channel for a streamed answer.
    pub fn stream() -> (mpsc::Sender<Vec<String>>, Answer) {
        let (sender, receiver) = mpsc::channel(STREAM_CHUNKS);
        (sender, Answer::Stream(receiver))
    }
}

/// Creates the socket (replacing a stale one) and serves it until the task is aborted.
pub fn serve(
    path: &Path,
    requests: mpsc::Sender<ControlRequest>,
) -> io::Result<tokio::task::JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    let path: PathBuf = path.to_owned();
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, requests.clone()));
                }
                Err(error) => {
                    warn!(socket = %path.display(), %error, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

async fn serve_connection(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    let mut line = String::new();
    let mut answer = match reader.read_line(&mut line).await {
        Ok(_) => match serde_json::from_str::<Request>(line.trim()) {
            Ok(request) => {
                debug!(?request, "control request");
                let (reply, answer) = oneshot::channel();
                if requests
                    .send(ControlRequest { request, reply })
                    .await
                    .is_err()
                {
                    Answer::Lines(vec![failure("bgpd is shutting down")])
                } else {
                    answer.await.unwrap_or_else(|_| {
                        Answer::Lines(vec![failure("bgpd dropped the request")])
                    })
                }
            }
            Err(error) => Answer::Lines(vec![failure(&format!("bad request: {error}"))]),
        },
        Err(error) => Answer::Lines(vec![failure(&format!("cannot read request: {error}"))]),
    };
    match &mut answer {
        Answer::Lines(lines) => {
            if write_lines(&mut write, lines).await.is_err() {
                return;
            }
        }
        Answer::Stream(chunks) => {
            while let Some(lines) = chunks.recv().await {
                if write_lines(&mut write, &lines).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = write.shutdown().await;
}

async fn write_lines(write: &mut OwnedWriteHalf, lines: &[String]) -> io::Result<()> {
    for line in lines {
        write.write_all(line.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
    Ok(())
}

/// A `{"error": …}` line.
pub fn failure(message: &str) -> String {
    serde_json::to_string(&Failure {
        error: message.to_owned(),
    })
    .unwrap_or_else(|_| r#"{"error":"?"}"#.to_owned())
}
