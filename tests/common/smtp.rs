//! A loopback SMTP sink: enough of RFC 5321 for a client to hand over a message (EHLO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), recording each one. It can start "down": the
//! first connections are accepted and dropped before the greeting, as a relay that is not
//! serving yet, so a sender's retries can be tested without racing for a port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Most bytes one connection may send: a bound, not a limit a reminder comes near.
const MAX_CONNECTION_BYTES: usize = 1 << 20;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`).
    pub envelope_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub envelope_to: Vec<String>,
    /// Header lines, unfolded, as (name, value).
    pub headers: Vec<(String, String)>,
    /// The body with `\n` line ends and dot-stuffing undone.
    pub body: String,
}

impl Mail {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running sink.
#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    drops_left: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl SmtpSink {
    /// A sink that drops its first `down_for` connections, then serves.
    pub async fn start(down_for: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            mails: Arc::default(),
            drops_left: Arc::new(AtomicUsize::new(down_for)),
            connections: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                let down = s
                    .drops_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if down {
                    drop(stream);
                    continue;
                }
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.serve(stream).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:PORT`, for `smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Connections accepted so far, dropped ones included.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until `n` messages arrived (at most `secs` seconds).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Mail> {
        for _ in 0..secs * 10 {
            if self.mails().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.mails()
    }

    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink ESMTP\r\n").await?;
        let mut read_total = 0;
        let mut from = String::new();
        let mut to = Vec::new();
        loop {
            let Some(line) = next_line(&mut lines, &mut read_total).await? else {
                return Ok(());
            };
            let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
            let answer: &[u8] = match verb.as_str() {
                "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                "HELO" | "RSET" | "NOOP" => b"250 OK\r\n",
                "MAIL" => {
                    from = angle(&line);
                    to.clear();
                    b"250 OK\r\n"
                }
                "RCPT" => {
                    to.push(angle(&line));
                    b"250 OK\r\n"
                }
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    let mut data = Vec::new();
                    loop {
                        let Some(line) = next_line(&mut lines, &mut read_total).await? else {
                            return Ok(());
                        };
                        if line == "." {
                            break;
                        }
                        data.push(line.strip_prefix('.').unwrap_or(&line).to_owned());
                    }
                    self.mails
                        .lock()
                        .unwrap()
                        .push(parse(from.clone(), to.clone(), &data));
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"502 not implemented\r\n",
            };
            write.write_all(answer).await?;
        }
    }
}

/// The next line without its line end; `None` at the end of the stream or past the bound.
async fn next_line(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    read_total: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = lines.read_line(&mut line).await?;
    *read_total += n;
    if n == 0 || *read_total > MAX_CONNECTION_BYTES {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn angle(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

fn parse(envelope_from: String, envelope_to: Vec<String>, data: &[String]) -> Mail {
    let blank = data.iter().position(String::is_empty).unwrap_or(data.len());
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in &data[..blank] {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let mut body = data.get(blank + 1..).unwrap_or_default().join("\n");
    body.push('\n');
    Mail {
        envelope_from,
        envelope_to,
        headers,
        body,
    }
}
