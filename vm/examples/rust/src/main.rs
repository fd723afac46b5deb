//! vm/examples/rust - a VSOK echo agent over AF_VSOCK with the `vsock` crate.
//!
//!   echo-agent listen PORT     serve vsock:any:PORT, one thread per connection
//!   echo-agent connect ADDR    connect to ADDR (vsock:CID:PORT), echo, exit
//!
//! Every valid message comes back as one frame; on a protocol error the
//! connection is closed and the error named on stderr with its offset.
//! Build and certify it: see vm/README.md ("Bring your own agent").
use std::io::{self, BufReader, Read, Write};
use std::process::exit;
use std::thread;
use std::time::Duration;

use vsock::{VsockListener, VsockStream};

const MAGIC: &[u8; 4] = b"VSOK";
const MAX_PAYLOAD: u32 = 1 << 20; // 1 MiB, inclusive
const CHUNK: usize = 64 << 10; // largest payload write
const IDLE: Duration = Duration::from_secs(30);
const VMADDR_CID_ANY: u32 = 0xFFFF_FFFF;

/// The next payload; Ok(None) at a clean end on a frame boundary.  Each
/// magic byte is checked as it arrives, and the payload buffer grows with
/// the bytes received, not with the length the peer announced.
fn read_frame(r: &mut impl Read, off: &mut u64) -> Result<Option<Vec<u8>>, String> {
    let mut hdr = [0u8; 8];
    for i in 0..8 {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(1) => {}
            Ok(_) if i == 0 => return Ok(None),
            Ok(_) => return Err(format!("Truncated at offset {}", off)),
            Err(e) => return Err(format!("Io at offset {}: {}", off, e)),
        }
        if i < 4 && b[0] != MAGIC[i] {
            return Err(format!("InvalidMagicBytes at offset {}", off));
        }
        hdr[i] = b[0];
        *off += 1;
    }
    let n = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    if n == 0 {
        return Err(format!("InvalidTotalLength at offset {}", *off - 4));
    }
    if n > MAX_PAYLOAD {
        return Err(format!("MessageTooLarge ({}) at offset {}", n, *off - 4));
    }
    let mut p = Vec::new();
    let got = r.take(n as u64).read_to_end(&mut p).map_err(|e| format!("Io: {}", e))?;
    *off += got as u64;
    if got != n as usize {
        return Err(format!("Truncated at offset {}", off));
    }
    Ok(Some(p))
}

fn write_frame(w: &mut impl Write, p: &[u8]) -> io::Result<()> {
    let mut hdr = [0u8; 8];
    hdr[..4].copy_from_slice(MAGIC);
    hdr[4..].copy_from_slice(&(p.len() as u32).to_be_bytes());
    w.write_all(&hdr)?;
    for c in p.chunks(CHUNK) {
        w.write_all(c)?;
    }
    Ok(())
}

/// Echoes until the peer's clean end or its protocol error; the stream,
/// dropped on return, closes the connection's one fd exactly once.
fn echo(s: VsockStream) -> Result<(), String> {
    // vsock 0.2.x (Debian 12 ships 0.2.4) swaps these two: its
    // set_read_timeout sets SO_SNDTIMEO (rust-vsock/vsock-rs#30).  Set both,
    // so reads and writes are bounded with any version of the crate.
    s.set_read_timeout(Some(IDLE)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IDLE)).map_err(|e| e.to_string())?;
    // Read and write through &VsockStream, never a second VsockStream: in
    // vsock 0.2.x try_clone() copies the fd NUMBER without dup(), so both
    // handles close it on drop (rust-vsock/vsock-rs#31, fixed upstream by
    // #34).  In a server the second close lands on whatever connection
    // accept() has meanwhile given that number: that connection is dropped
    // before its first echo.
    let mut w = &s;
    let mut r = BufReader::with_capacity(CHUNK, &s);
    let mut off = 0u64;
    while let Some(p) = read_frame(&mut r, &mut off)? {
        write_frame(&mut w, &p).map_err(|e| format!("write: {}", e))?;
    }
    Ok(())
}

fn parse_addr(s: &str) -> Option<(u32, u32)> {
    let f: Vec<&str> = s.split(':').collect();
    if f.len() != 3 || f[0] != "vsock" {
        return None;
    }
    let cid = if f[1] == "local" { 1 } else { f[1].parse().ok()? };
    Some((cid, f[2].parse().ok()?))
}

fn usage() -> ! {
    eprintln!("usage: echo-agent listen PORT | echo-agent connect vsock:CID:PORT");
    exit(2)
}

fn main() {
    // Safety net for this repository only, delete it in your agent: never
    // open a vsock socket outside scripts/vm-test's guest.
    if std::env::var("VSOK_VM_GUEST").as_deref() != Ok("1") {
        eprintln!("echo-agent: refusing to run outside the vsok test VM");
        exit(77);
    }
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        usage();
    }
    match args[1].as_str() {
        "listen" => {
            let port: u32 = args[2].parse().unwrap_or_else(|_| usage());
            let l = VsockListener::bind_with_cid_port(VMADDR_CID_ANY, port).unwrap_or_else(|e| {
                eprintln!("echo-agent: listen: {}", e);
                exit(2)
            });
            for s in l.incoming() {
                match s {
                    Ok(s) => {
                        thread::spawn(move || {
                            if let Err(e) = echo(s) {
                                eprintln!("echo-agent: connection: {}", e);
                            }
                        });
                    }
                    Err(e) => eprintln!("echo-agent: accept: {}", e),
                }
            }
        }
        "connect" => {
            let (cid, port) = parse_addr(&args[2]).unwrap_or_else(|| usage());
            let s = VsockStream::connect_with_cid_port(cid, port).unwrap_or_else(|e| {
                eprintln!("echo-agent: connect: {}", e);
                exit(2)
            });
            if let Err(e) = echo(s) {
                eprintln!("echo-agent: {}: {}", args[2], e);
                exit(1);
            }
        }
        _ => usage(),
    }
}
