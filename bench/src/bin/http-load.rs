//! `http-load`: an open-loop HTTP load generator for the stall benchmark (bench/stalls.py).
//!
//! Requests are due at a fixed rate (request i at start + i/rate) whatever the answers do,
//! and each latency is measured from when the request was due, not from when it was sent, so
//! a stall counts for every request it held up (no coordinated omission). The answers are
//! grouped by the second they were due in: each second's count, errors, p50, p99 and max.
//!
//! It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) to stay light: the
//! point is to leave the machine to the service. Its own CPU time is reported too.
//!
//!   http-load --url http://127.0.0.1:3001/orders --body body.json --rate 10000 --seconds 300 \
//!     --connections 64 --csv per-second.csv

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

#[derive(Parser)]
struct Cli {
    /// http://HOST:PORT/PATH (plain HTTP only).
    #[arg(long)]
    url: String,
    /// A file with the JSON body of each POST.
    #[arg(long)]
    body: std::path::PathBuf,
    /// Requests per second.
    #[arg(long)]
    rate: u64,
    #[arg(long)]
    seconds: u64,
    /// Connections kept open; a request waits for a free one, and that wait counts.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Where the per-second lines go (CSV).
    #[arg(long)]
    csv: std::path::PathBuf,
}

/// One answer: the second it was due in, its latency (µs) and whether it was a 2xx.
struct Answer {
    second: u32,
    micros: u32,
    ok: bool,
}

struct Target {
    addr: String,
    request: Vec<u8>,
}

fn target(url: &str, body: &[u8]) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("only http:// URLs: {url}"))?;
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    Ok(Target {
        addr: addr.to_string(),
        request,
    })
}

/// Reads one response; its status. Only Content-Length bodies (what the services send).
async fn response(reader: &mut BufReader<TcpStream>) -> anyhow::Result<u16> {
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP status line: {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            anyhow::bail!("connection closed in the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                anyhow::bail!("chunked answers are not read here");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(status)
}

async fn connection(
    target: Arc<Target>,
    next: Arc<AtomicU64>,
    total: u64,
    interval: Duration,
    start: Instant,
) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut conn: Option<BufReader<TcpStream>> = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return answers;
        }
        let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due).await;
        let mut ok = false;
        for _attempt in 0..2 {
            if conn.is_none() {
                conn = TcpStream::connect(&target.addr).await.ok().map(|s| {
                    let _ = s.set_nodelay(true);
                    BufReader::new(s)
                });
            }
            let Some(c) = conn.as_mut() else { break };
            match c.get_mut().write_all(&target.request).await {
                Ok(()) => match response(c).await {
                    Ok(status) => {
                        ok = (200..300).contains(&status);
                        break;
                    }
                    Err(_) => conn = None,
                },
                Err(_) => conn = None,
            }
        }
        let took = Instant::now().saturating_duration_since(due);
        answers.push(Answer {
            second: (due - start).as_secs() as u32,
            micros: took.as_micros().min(u128::from(u32::MAX)) as u32,
            ok,
        });
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// This process's CPU time (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let body = std::fs::read(&cli.body)?;
    let target = Arc::new(target(&cli.url, &body)?);
    let total = cli.rate * cli.seconds;
    let interval = Duration::from_nanos(1_000_000_000 / cli.rate.max(1));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = (0..cli.connections)
        .map(|_| {
            tokio::spawn(connection(
                target.clone(),
                next.clone(),
                total,
                interval,
                start,
            ))
        })
        .collect();
    let mut per_second: Vec<(Vec<u32>, u64)> = vec![(Vec::new(), 0); cli.seconds as usize + 1];
    for task in tasks {
        for a in task.await? {
            let slot = &mut per_second[(a.second as usize).min(cli.seconds as usize)];
            slot.0.push(a.micros);
            slot.1 += u64::from(!a.ok);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let mut csv = String::from("second,requests,errors,p50_ms,p99_ms,max_ms\n");
    let mut all = Vec::new();
    let (mut worst_p99, mut worst_max, mut errors, mut late_windows) = (0f64, 0f64, 0u64, 0u32);
    for (second, (micros, errs)) in per_second.iter_mut().enumerate() {
        if micros.is_empty() {
            continue;
        }
        micros.sort_unstable();
        let (p50, p99) = (percentile(micros, 0.50), percentile(micros, 0.99));
        let max = f64::from(*micros.last().unwrap_or(&0)) / 1000.0;
        csv.push_str(&format!(
            "{second},{},{errs},{p50:.3},{p99:.3},{max:.3}\n",
            micros.len()
        ));
        worst_p99 = worst_p99.max(p99);
        worst_max = worst_max.max(max);
        errors += *errs;
        late_windows += u32::from(p99 > 10.0 || max > 50.0);
        all.extend_from_slice(micros);
    }
    std::fs::write(&cli.csv, csv)?;
    all.sort_unstable();
    println!(
        "{}",
        json!({
            "requests": all.len(), "errors": errors, "rate": cli.rate, "seconds": cli.seconds,
            "connections": cli.connections,
            "p50_ms": percentile(&all, 0.50), "p99_ms": percentile(&all, 0.99),
            "p999_ms": percentile(&all, 0.999), "max_ms": worst_max,
            "worst_window_p99_ms": worst_p99,
            "windows_over_target": late_windows,
            "generator_cpu_percent": 100.0 * cpu_seconds() / wall,
        })
    );
    Ok(())
}
