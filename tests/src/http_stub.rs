//! Small HTTP stubs the tests share: reading one request and answering it on a raw socket (for the PhonePe
//! stand-in), and a webhook endpoint that keeps what it receives.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One HTTP/1.1 request: method, target, lower-case headers, body. `None` when the peer closed first.
pub(crate) async fn read_request(
    stream: &mut TcpStream,
) -> std::io::Result<Option<(String, String, HashMap<String, String>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..(head_end + length).min(buf.len())].to_vec();
    Ok(Some((method, target, headers, body)))
}

pub(crate) async fn respond(stream: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A received webhook delivery: the raw body and its `Stripe-Signature` header.
pub type Delivery = (Vec<u8>, Option<String>);

/// A webhook endpoint on 127.0.0.1 that keeps what it receives (raw body, `Stripe-Signature`) and answers 200,
/// so a test can pass real deliveries (e.g. localstripe's) to the webhook handler.
pub struct WebhookSink {
    pub url: String,
    received: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let received: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let shared = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Ok(Some((_, _, headers, body))) = read_request(&mut stream).await {
                        shared
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((body, headers.get("stripe-signature").cloned()));
                        let _ = respond(&mut stream, 200, "{}").await;
                    }
                });
            }
        });
        Self { url, received, task }
    }

    /// Deliveries received so far (and forgets them).
    pub fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.received.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Wait (up to `secs`) until a delivery of each event type arrived; returns everything received.
    pub async fn wait_for(&self, types: &[&str], secs: u64) -> Vec<Delivery> {
        let mut got = Vec::new();
        for _ in 0..secs * 10 {
            got.extend(self.take());
            let seen =
                |t: &str| got.iter().any(|(b, _)| serde_json::from_slice::<Value>(b).is_ok_and(|v| v["type"] == t));
            if types.iter().all(|t| seen(t)) {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("webhooks {types:?} not all received within {secs}s; got {}", got.len());
    }
}
