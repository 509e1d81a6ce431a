//! Process metrics with the Prometheus client libraries' standard names (`process_*`), read
//! from `/proc/self` at each scrape. On systems without procfs nothing is exported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// The `process_*` collector.
#[derive(Debug, Default)]
pub struct ProcessCollector;

/// One reading of the process.
#[derive(Debug, Default, PartialEq)]
struct Reading {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    max_fds: f64,
    threads: f64,
}

#[cfg(target_os = "linux")]
fn read() -> Option<Reading> {
    let me = procfs::process::Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let boot = procfs::boot_time_secs().ok()? as f64;
    let max_fds = me
        .limits()
        .ok()
        .and_then(|l| match l.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(v) => Some(v as f64),
            procfs::process::LimitValue::Unlimited => None,
        });
    Some(Reading {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: stat.rss as f64 * procfs::page_size() as f64,
        virtual_bytes: stat.vsize as f64,
        start_time_seconds: boot + stat.starttime as f64 / ticks,
        open_fds: me.fd_count().map_or(0.0, |n| n as f64),
        max_fds: max_fds.unwrap_or(0.0),
        threads: stat.num_threads as f64,
    })
}

#[cfg(not(target_os = "linux"))]
fn read() -> Option<Reading> {
    None
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(r) = read() else { return Ok(()) };
        let cpu = ConstCounter::new(r.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let bytes = Some(&Unit::Bytes);
        gauge(
            &mut encoder,
            "process_resident_memory",
            "Resident memory size",
            bytes,
            r.resident_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory",
            "Virtual memory size",
            bytes,
            r.virtual_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_start_time",
            "Start time of the process since the Unix epoch",
            Some(&Unit::Seconds),
            r.start_time_seconds,
        )?;
        gauge(
            &mut encoder,
            "process_open_fds",
            "Open file descriptors",
            None,
            r.open_fds,
        )?;
        gauge(
            &mut encoder,
            "process_max_fds",
            "Maximum open file descriptors",
            None,
            r.max_fds,
        )?;
        gauge(
            &mut encoder,
            "process_threads",
            "OS threads",
            None,
            r.threads,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_reads_itself() {
        let r = read().expect("procfs");
        assert!(r.resident_bytes > 0.0 && r.virtual_bytes >= r.resident_bytes);
        assert!(r.open_fds >= 1.0 && r.threads >= 1.0);
        assert!(r.start_time_seconds > 1.6e9, "{r:?}");
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("\n{name} ")), "{name} in\n{text}");
        }
    }
}
