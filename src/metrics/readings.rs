//! Values read at scrape time from the rooms that own them: the auth counters, the hash
//! pool's queue, open connections, the database pool and its WAL fsyncs, blob store
//! errors.
//!
//! Each room keeps its own atomics and knows nothing of Prometheus; the server hands a
//! closure per series to [`Readings`], which the registry asks on every scrape. So a
//! request pays nothing for these, and no room depends on this one.

use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads one value of a series.
pub type Read = Box<dyn Fn() -> u64 + Send + Sync>;

/// Whether a reading only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows; exposed with the `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One metric read at scrape time.
struct Reading {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: Series,
}

/// A single series, or one per value of a label.
enum Series {
    One(Read),
    Labelled(&'static str, Vec<(&'static str, Read)>),
}

/// The metrics read at scrape time; shared by the registry and the code adding them.
#[derive(Clone, Default)]
pub struct Readings {
    readings: Arc<RwLock<Vec<Reading>>>,
}

impl std::fmt::Debug for Readings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readings")
    }
}

impl Readings {
    /// Adds a metric with one series.
    pub fn add(&self, name: &'static str, help: &'static str, kind: Kind, read: Read) {
        self.push(Reading {
            name,
            help,
            kind,
            series: Series::One(read),
        });
    }

    /// Adds a metric with one series per value of the label `key`.
    pub fn add_labelled(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        key: &'static str,
        series: Vec<(&'static str, Read)>,
    ) {
        self.push(Reading {
            name,
            help,
            kind,
            series: Series::Labelled(key, series),
        });
    }

    fn push(&self, reading: Reading) {
        self.readings
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(reading);
    }
}

impl Collector for Readings {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let readings = self.readings.read().unwrap_or_else(|e| e.into_inner());
        for reading in readings.iter() {
            let metric_type = match reading.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
            };
            let mut metric =
                encoder.encode_descriptor(reading.name, reading.help, None, metric_type)?;
            match &reading.series {
                Series::One(read) => encode_value(reading.kind, read(), metric)?,
                Series::Labelled(key, series) => {
                    for (value, read) in series {
                        let labels = [(*key, *value)];
                        encode_value(reading.kind, read(), metric.encode_family(&labels)?)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn encode_value(kind: Kind, value: u64, encoder: MetricEncoder) -> std::fmt::Result {
    match kind {
        Kind::Counter => ConstCounter::new(value).encode(encoder),
        Kind::Gauge => ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(encoder),
    }
}
