//! A connection's reader: it only frames (RFC 4271 §4.1, up to the RFC 8654 extended size),
//! so that each message is decoded by the peer task with the parameters in force when it is
//! processed, not when it was read. A full frame queue stops the reader, and with it the
//! socket: TCP flow control pushes back on the neighbor.

use std::io;

use bytes::{Bytes, BytesMut};
use proto::header::split_frame;
use proto::params::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
use proto::session::ConnectionId;
use proto::DecodeError;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// What a reader hands its peer task, in the order read.
#[derive(Debug)]
pub struct ReadEvent {
    pub id: ConnectionId,
    pub generation: u64,
    pub read: Read,
}

#[derive(Debug)]
pub enum Read {
    /// One whole message, header included.
    Frame(Bytes),
    /// The last event of the connection.
    Failed(ReadFailure),
}

#[derive(Debug)]
pub enum ReadFailure {
    /// The neighbor closed the connection.
    Closed,
    Io(io::Error),
    /// A bad message header (RFC 4271 §6.1).
    Framing(DecodeError),
}

pub async fn read_loop<R: AsyncRead + Unpin>(
    mut half: R,
    events: mpsc::Sender<ReadEvent>,
    id: ConnectionId,
    generation: u64,
) {
    let send = |read| {
        events.send(ReadEvent {
            id,
            generation,
            read,
        })
    };
    let mut buffer = BytesMut::with_capacity(MAX_EXTENDED_MESSAGE_LEN);
    let failure = loop {
        loop {
            match split_frame(&mut buffer, MAX_EXTENDED_MESSAGE_LEN) {
                Ok(Some(frame)) => {
                    // Waiting here when the peer task is behind is the backpressure.
                    if send(Read::Frame(frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = send(Read::Failed(ReadFailure::Framing(error))).await;
                    return;
                }
            }
        }
        if buffer.capacity() - buffer.len() < MAX_MESSAGE_LEN {
            buffer.reserve(MAX_EXTENDED_MESSAGE_LEN);
        }
        match half.read_buf(&mut buffer).await {
            Ok(0) => break ReadFailure::Closed,
            Ok(_) => {}
            Err(error) => break ReadFailure::Io(error),
        }
    };
    let _ = send(Read::Failed(failure)).await;
}
