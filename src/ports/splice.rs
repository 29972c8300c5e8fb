//! Zero-copy TCP forwarding for the userland proxy: each direction moves
//! data with splice(2), from one socket into a pipe and from the pipe into
//! the other socket, so the bytes never enter user space. A pipe per
//! direction, enlarged to [`PIPE_SIZE`] so that a high bandwidth-delay
//! flow is not held back by the pipe; the sockets' own buffers are left to
//! the kernel's autotuning.
//!
//! Pipes are kept in a pool when their connection ends empty, so that a
//! new connection costs no pipe creation or resizing (at most
//! [`POOLED_PIPES`] are kept).
//!
//! Half-close: when one side ends its sending half, what it sent drains
//! into the other side, whose sending half is then shut down; the other
//! direction goes on. Backpressure is the pipe's: a direction reads only
//! while its pipe has room.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, PoisonError};

use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};
use nix::sys::socket::{Shutdown, shutdown};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Each direction's pipe, when the kernel allows it (the default is 64 KiB).
/// Bytes in a pipe are outside TCP's memory accounting: this bounds what a
/// connection whose receiver never reads can pin.
pub const PIPE_SIZE: usize = 256 << 10;

/// How many empty pipes are kept for new connections.
pub const POOLED_PIPES: usize = 256;

/// Empty pipes, ready for a new connection.
static POOL: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

/// A pipe, both ends non-blocking.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    size: usize,
}

impl Pipe {
    /// A pipe from the pool, or a new one.
    fn take() -> io::Result<Pipe> {
        let pooled = POOL.lock().unwrap_or_else(PoisonError::into_inner).pop();
        pooled.map_or_else(Pipe::new, Ok)
    }

    /// Back to the pool: only an empty pipe, and while the pool has room.
    fn give_back(self) {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED_PIPES {
            pool.push(self);
        }
    }

    fn new() -> io::Result<Pipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        // Larger than /proc/sys/fs/pipe-max-size needs CAP_SYS_RESOURCE: the
        // default size then.
        let size = match fcntl(write.as_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32)) {
            Ok(size) => size as usize,
            Err(_) => fcntl(write.as_fd(), FcntlArg::F_GETPIPE_SZ).map_or(65536, |s| s as usize),
        };
        Ok(Pipe { read, write, size })
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Bytes waiting in a socket's receive queue (`FIONREAD`, i.e. `SIOCINQ`).
fn queued(socket: &TcpStream) -> usize {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer given.
    let r = unsafe { nix::libc::ioctl(socket.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
    if r == 0 {
        usize::try_from(n).unwrap_or(0)
    } else {
        0
    }
}

/// What a splice from the socket into the pipe did.
enum Read {
    Bytes(usize),
    /// The pipe is full although it holds fewer bytes than its size (a
    /// pipe counts pages, and small segments fill them): the socket still
    /// has data, so its readiness must not be cleared.
    PipeFull,
}

/// Moves everything `from` sends into `to`, then shuts `to`'s sending half;
/// the bytes moved.
async fn pump(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let pipe = Pipe::take()?;
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let mut in_pipe = 0usize;
    let mut eof = false;
    let mut pipe_full = false;
    let mut moved = 0u64;
    loop {
        let mut progressed = false;
        if !eof && !pipe_full && in_pipe < pipe.size {
            let room = pipe.size - in_pipe;
            match from.try_io(Interest::READABLE, || {
                match splice(from, None, &pipe.write, None, room, flags) {
                    Ok(n) => Ok(Read::Bytes(n)),
                    // EAGAIN from a full pipe, not from an empty socket:
                    // answered without clearing the socket's readiness.
                    Err(nix::errno::Errno::EAGAIN) if in_pipe > 0 && queued(from) > 0 => {
                        Ok(Read::PipeFull)
                    }
                    Err(e) => Err(io::Error::from(e)),
                }
            }) {
                Ok(Read::Bytes(0)) => eof = true,
                Ok(Read::Bytes(n)) => {
                    in_pipe += n;
                    progressed = true;
                }
                Ok(Read::PipeFull) => pipe_full = true,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if in_pipe > 0 {
            match to.try_io(Interest::WRITABLE, || {
                splice(&pipe.read, None, to, None, in_pipe, flags).map_err(io::Error::from)
            }) {
                Ok(n) => {
                    in_pipe -= n;
                    moved += n as u64;
                    progressed = true;
                    pipe_full = false;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
        }
        if eof && in_pipe == 0 {
            // The peer may be gone already: nothing to tell it then.
            let _ = shutdown(to.as_raw_fd(), Shutdown::Write);
            pipe.give_back();
            return Ok(moved);
        }
        if progressed {
            continue;
        }
        let read = !eof && !pipe_full && in_pipe < pipe.size;
        let write = in_pipe > 0;
        tokio::select! {
            r = from.readable(), if read => r?,
            w = to.writable(), if write => w?,
        }
    }
}

/// Forwards between `client` and `backend` until both directions have
/// ended, or one fails (then both close): the bytes each way.
pub async fn forward(client: &TcpStream, backend: &TcpStream) -> io::Result<(u64, u64)> {
    tokio::try_join!(pump(client, backend), pump(backend, client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A proxy of one connection between a client and an echo-less sink
    /// that sends back what it read once the client half-closed.
    #[tokio::test]
    async fn bulk_data_and_half_close_cross_the_splice() {
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_addr = backend.local_addr().unwrap();
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        let sink = tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(&(got.len() as u64).to_be_bytes())
                .await
                .unwrap();
            got
        });
        let proxy = tokio::spawn(async move {
            let (c, _) = front.accept().await.unwrap();
            let b = TcpStream::connect(backend_addr).await.unwrap();
            forward(&c, &b).await.unwrap()
        });
        let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let mut client = TcpStream::connect(front_addr).await.unwrap();
        client.write_all(&data).await.unwrap();
        client.shutdown().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, (data.len() as u64).to_be_bytes());
        assert_eq!(sink.await.unwrap(), data);
        assert_eq!(proxy.await.unwrap(), (data.len() as u64, 8));
    }
}
