//! `keyward load`: a load generator for any AWS KMS endpoint (keyward, or
//! another implementation to compare with). Several clients, each on its own
//! keep-alive connection, send SigV4-signed requests for a fixed time; the
//! command prints requests per second and latency percentiles.

use std::time::{Duration, Instant};

use base64::Engine;
use keyward::server::sigv4;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Settings {
    pub host: String,
    pub port: u16,
    pub access_key_id: String,
    pub secret: String,
    pub region: String,
    pub clients: usize,
    pub duration: Duration,
}

/// One keep-alive HTTP/1.1 connection that speaks the KMS protocol.
struct Conn {
    /// `None` after the server answered `Connection: close`.
    reader: Option<BufReader<TcpStream>>,
}

impl Conn {
    async fn open(s: &Settings) -> Result<Conn, String> {
        Ok(Conn {
            reader: Some(connect(s).await?),
        })
    }

    async fn call(&mut self, s: &Settings, op: &str, body: &Value) -> Result<(u16, Value), String> {
        let body = body.to_string();
        let now = time::OffsetDateTime::now_utc();
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let host = format!("{}:{}", s.host, s.port);
        let headers = vec![
            ("host".to_owned(), host.clone()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-date".to_owned(), amz_date),
            ("x-amz-target".to_owned(), format!("TrentService.{op}")),
        ];
        let auth = sigv4::authorization(
            "POST",
            "/",
            &headers,
            body.as_bytes(),
            &s.access_key_id,
            s.secret.as_bytes(),
            &s.region,
            "kms",
        );
        let mut req = String::from("POST / HTTP/1.1\r\n");
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "authorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ));
        let io = |e: std::io::Error| e.to_string();
        let mut reader = match self.reader.take() {
            Some(r) => r,
            None => connect(s).await?,
        };
        reader
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .map_err(io)?;
        let mut line = String::new();
        reader.read_line(&mut line).await.map_err(io)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            reader.read_line(&mut line).await.map_err(io)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((_, v)) = line
                .split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            {
                length = v.trim().parse().unwrap_or(0);
            }
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut buf = vec![0u8; length];
        reader.read_exact(&mut buf).await.map_err(io)?;
        if !close {
            self.reader = Some(reader);
        }
        Ok((status, serde_json::from_slice(&buf).unwrap_or(Value::Null)))
    }
}

async fn connect(s: &Settings) -> Result<BufReader<TcpStream>, String> {
    let stream = TcpStream::connect((s.host.as_str(), s.port))
        .await
        .map_err(|e| format!("connect {}:{}: {e}", s.host, s.port))?;
    let _ = stream.set_nodelay(true);
    Ok(BufReader::new(stream))
}

/// What one run measured.
pub struct Report {
    pub operation: String,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Report {
    pub fn line(&self) -> String {
        format!(
            "{:<16} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests, {} errors, {} s)",
            self.operation,
            self.requests as f64 / self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.requests,
            self.errors,
            self.seconds
        )
    }
}

/// Creates a key and a ciphertext, then drives `operation` from
/// `s.clients` connections for `s.duration`.
pub async fn run(s: &Settings, operation: &str) -> Result<Report, String> {
    let mut setup = Conn::open(s).await?;
    let (status, key) = setup
        .call(s, "CreateKey", &json!({"Description": "keyward load"}))
        .await?;
    if status != 200 {
        return Err(format!("CreateKey: {status} {key}"));
    }
    let arn = key["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ctx = json!({"tenant": "acme", "purpose": "load"});
    let plaintext = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (status, enc) = setup
        .call(
            s,
            "Encrypt",
            &json!({"KeyId": arn, "Plaintext": plaintext, "EncryptionContext": ctx}),
        )
        .await?;
    if status != 200 {
        return Err(format!("Encrypt: {status} {enc}"));
    }
    let (op, body) = match operation {
        "decrypt" => (
            "Decrypt",
            json!({"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": ctx}),
        ),
        "encrypt" => (
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": plaintext, "EncryptionContext": ctx}),
        ),
        "generate-data-key" => (
            "GenerateDataKey",
            json!({"KeyId": arn, "KeySpec": "AES_256", "EncryptionContext": ctx}),
        ),
        other => {
            return Err(format!(
                "unknown operation `{other}` (decrypt, encrypt, generate-data-key)"
            ));
        }
    };
    let deadline = Instant::now() + s.duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..s.clients {
        let settings = Settings {
            host: s.host.clone(),
            port: s.port,
            access_key_id: s.access_key_id.clone(),
            secret: s.secret.clone(),
            region: s.region.clone(),
            clients: 1,
            duration: s.duration,
        };
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&settings).await?;
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, _) = conn.call(&settings, op, &body).await?;
                latencies.push(t.elapsed().as_micros() as u64);
                if status != 200 {
                    errors += 1;
                }
            }
            Ok::<_, String>((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())??;
        all.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    Ok(Report {
        operation: op.to_owned(),
        requests: all.len(),
        errors,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}
