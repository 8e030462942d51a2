//! What an operator graphs: Prometheus metrics of requests, sign-ins, connections, the
//! database pool and the blob store, and the `/metrics` endpoint that serves them in the
//! Prometheus text format.
//!
//! One [`Metrics`] per server, passed down explicitly (prometheus-client keeps no global
//! registry). Request series are recorded when a response ends, by the access log, with
//! labels from small fixed sets ([`labels`]): a request never allocates for them and
//! never adds a series of its own. Everything else is read at scrape time from the
//! atomics of the room that owns it ([`readings`]). Serving, and who may read it, is
//! [`endpoint`]'s. Metrics are off (no `Metrics` exists) unless `metrics_listen` or
//! `metrics_token` is set.

pub mod endpoint;
pub mod labels;
pub mod readings;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use self::labels::{MethodLabel, RequestLabels, RouteLabel, RouteLabels};
pub use self::readings::{Kind, Read, Readings};
use crate::route::Verb;

/// Request durations, in seconds: from a cached PROPFIND (a millisecond) to a large
/// upload (minutes).
const DURATION_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
    600.0,
];

/// The server's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    /// One histogram per [`RouteLabel`], created up front and indexed by it, so the
    /// request path finds its own without a lookup.
    durations: [Histogram; RouteLabel::ALL.len()],
    received: Counter,
    sent: Counter,
    uploads: Gauge,
    readings: Readings,
}

/// What one finished request adds to the metrics.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    /// Its labels.
    pub labels: RequestLabels,
    /// From the request head to the end of the response body.
    pub duration: Duration,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
}

impl Metrics {
    /// A registry holding every davgate metric, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "davgate_http_requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        let duration_family = Family::<RouteLabels, Histogram, _>::new_with_constructor(
            (|| Histogram::new(DURATION_BUCKETS)) as fn() -> Histogram,
        );
        let durations = RouteLabel::ALL
            .map(|route| duration_family.get_or_create_owned(&RouteLabels { route }));
        registry.register_with_unit(
            "davgate_http_request_duration",
            "Time from the request head to the end of the response body, by route",
            Unit::Seconds,
            duration_family,
        );
        let received = Counter::default();
        registry.register_with_unit(
            "davgate_http_received",
            "Request body bytes read",
            Unit::Bytes,
            received.clone(),
        );
        let sent = Counter::default();
        registry.register_with_unit(
            "davgate_http_sent",
            "Response body bytes sent",
            Unit::Bytes,
            sent.clone(),
        );
        let uploads = Gauge::default();
        registry.register(
            "davgate_uploads_in_flight",
            "PUT requests whose body is being received",
            uploads.clone(),
        );
        let readings = Readings::default();
        registry.register_collector(Box::new(readings.clone()));
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                received,
                sent,
                uploads,
                readings,
            }),
        }
    }

    /// Counts a finished request.
    pub fn request_finished(&self, finished: &Finished) {
        let inner = &*self.inner;
        inner.requests.get_or_create(&finished.labels).inc();
        inner.durations[finished.labels.route.index()].observe(finished.duration.as_secs_f64());
        inner.received.inc_by(finished.bytes_in);
        inner.sent.inc_by(finished.bytes_out);
    }

    /// Counts an upload in flight until the returned guard is dropped; `None` for
    /// anything but a PUT.
    pub fn upload_started(&self, verb: Verb) -> Option<UploadInFlight> {
        (verb == Verb::Put).then(|| {
            self.inner.uploads.inc();
            UploadInFlight {
                gauge: self.inner.uploads.clone(),
            }
        })
    }

    /// Where the server adds the values read at scrape time.
    pub fn readings(&self) -> &Readings {
        &self.inner.readings
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail; an encoder error would be a bug in a metric.
        if let Err(e) = prometheus_text::encode(&mut text, &self.inner.registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// An upload being received; the gauge goes down when it is dropped.
pub struct UploadInFlight {
    gauge: Gauge,
}

impl Drop for UploadInFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(route: RouteLabel, verb: Verb, status: u16) -> Finished {
        Finished {
            labels: RequestLabels {
                route,
                method: MethodLabel(verb),
                status,
            },
            duration: Duration::from_millis(3),
            bytes_in: 10,
            bytes_out: 20,
        }
    }

    #[test]
    fn a_request_moves_its_series() {
        let metrics = Metrics::new();
        metrics.request_finished(&finished(RouteLabel::Files, Verb::PropFind, 207));
        metrics.request_finished(&finished(RouteLabel::Files, Verb::PropFind, 207));
        metrics.request_finished(&finished(RouteLabel::WellKnown, Verb::Get, 301));
        let text = metrics.encode();
        assert!(
            text.contains(
                "davgate_http_requests_total{route=\"files\",method=\"PROPFIND\",status=\"207\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("route=\"well-known\",method=\"GET\",status=\"301\"} 1"));
        assert!(
            text.contains("davgate_http_received_bytes_total 30"),
            "{text}"
        );
        assert!(text.contains("davgate_http_sent_bytes_total 60"), "{text}");
        assert!(
            text.contains(
                "davgate_http_request_duration_seconds_bucket{le=\"0.005\",route=\"files\"} 2"
            ) || text.contains(
                "davgate_http_request_duration_seconds_bucket{route=\"files\",le=\"0.005\"} 2"
            ),
            "{text}"
        );
    }

    #[test]
    fn uploads_in_flight_go_up_and_down() {
        let metrics = Metrics::new();
        assert!(metrics.upload_started(Verb::Get).is_none());
        let upload = metrics.upload_started(Verb::Put);
        assert!(metrics.encode().contains("davgate_uploads_in_flight 1"));
        drop(upload);
        assert!(metrics.encode().contains("davgate_uploads_in_flight 0"));
    }

    #[test]
    fn readings_are_asked_at_scrape_time() {
        let metrics = Metrics::new();
        let value = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let read = value.clone();
        metrics.readings().add_labelled(
            "davgate_test_decisions",
            "Test",
            Kind::Counter,
            "decision",
            vec![
                (
                    "go",
                    Box::new(move || read.load(std::sync::atomic::Ordering::Relaxed)),
                ),
                ("wait", Box::new(|| 0)),
            ],
        );
        metrics
            .readings()
            .add("davgate_test_open", "Test", Kind::Gauge, Box::new(|| 7));
        value.store(5, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.encode();
        assert!(
            text.contains("davgate_test_decisions_total{decision=\"go\"} 5"),
            "{text}"
        );
        assert!(text.contains("davgate_test_decisions_total{decision=\"wait\"} 0"));
        assert!(
            text.contains("# TYPE davgate_test_open gauge\ndavgate_test_open 7"),
            "{text}"
        );
    }
}
