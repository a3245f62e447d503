//! OTLP/gRPC export of testfarm's spans, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (silent otherwise). Spans are built from records by `testfarm_shared::trace`, with
//! their own ids and times, so this crate only converts and sends; it uses the OTLP
//! protocol types directly rather than the OpenTelemetry SDK, whose span builder cannot
//! take given ids. Sending never blocks the caller and never fails it: a collector that
//! is down costs a debug log line.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use testfarm_shared::trace::SpanRecord;

#[derive(Clone, Debug)]
pub struct Exporter {
    endpoint: String,
    service: String,
}

impl Exporter {
    /// The exporter configured by `OTEL_EXPORTER_OTLP_ENDPOINT`, if any.
    pub fn from_env(service: &str) -> Option<Exporter> {
        let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())?;
        Some(Exporter {
            endpoint: endpoint.trim().to_string(),
            service: service.to_string(),
        })
    }

    /// Sends spans in the background.
    pub fn send(&self, spans: Vec<SpanRecord>) {
        if spans.is_empty() {
            return;
        }
        let request = request(&self.service, spans);
        let endpoint = self.endpoint.clone();
        tokio::spawn(async move {
            match TraceServiceClient::connect(endpoint.clone()).await {
                Ok(mut client) => {
                    if let Err(e) = client.export(request).await {
                        tracing::debug!("OTLP export to {endpoint} failed: {}", e.message());
                    }
                }
                Err(e) => tracing::debug!("OTLP collector {endpoint} unreachable: {e}"),
            }
        });
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// The OTLP request for spans of one service.
pub fn request(service: &str, spans: Vec<SpanRecord>) -> ExportTraceServiceRequest {
    let spans = spans
        .into_iter()
        .map(|s| Span {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_vec(),
            parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
            name: s.name,
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: s.start_ns,
            end_time_unix_nano: s.end_ns.max(s.start_ns),
            attributes: s.attributes.iter().map(|(k, v)| string(k, v)).collect(),
            status: Some(Status {
                code: if s.error {
                    status::StatusCode::Error
                } else {
                    status::StatusCode::Ok
                } as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "testfarm".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
