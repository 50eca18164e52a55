//! The `/metrics` body: every tenant's prepared parts joined in blocks, the per-tenant counters
//! and the exporter's own series, as gzip (the compressed parts as they are) or plain text.
//!
//! A scrape renders nothing and compresses nothing: blocks of tenants are rebuilt only when one
//! of their tenants changed; the per-tenant part of the body (its list of pieces, and for gzip
//! its frames with their CRC) is built once per change and shared by every scrape until the
//! next, so concurrent scrapes cost a reference each; small plain bodies are cached whole.

use super::gzip::{Piece, Pieces, Run, Stream};
use super::render::SeriesRenderer;
use super::self_metrics::SelfMetrics;
use crate::core::deflate::Part;
use crate::state::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Plain-text bodies up to this size are kept once joined, so repeated plain scrapes are a
/// buffer write; larger ones (10,000 tenants: ~300 MB) are inflated part by part as they are
/// sent, so they cost no memory.
const PLAIN_CACHE_LIMIT: u64 = 64 * 1024 * 1024;

/// What the per-tenant part of a body was made from: the store's and the per-tenant counters'
/// versions.
type BodyKey = (u64, u64);

/// Tenants (in name order) are joined in blocks of this many: a scrape reuses every block whose
/// tenants did not change, so during a refresh it joins only a few blocks again.
const BLOCK: usize = 64;

/// Up to this many compressed bytes in all, blocks hold their families joined into one buffer
/// each (a second copy, but scrapes write a few large buffers: 1,000 tenants ≈ 6 MB); above it
/// they reference the tenants' parts, so 10,000 tenants do not hold 55 MB twice.
const JOIN_LIMIT: usize = 32 * 1024 * 1024;

/// One block's families, each a run of its tenants' parts.
struct Block {
    fingerprint: u64,
    families: Vec<Run>,
}

/// The `/metrics` body and its caches.
pub struct MetricsBody {
    store: Arc<Store>,
    renderer: Arc<SeriesRenderer>,
    own: Arc<SelfMetrics>,
    /// `# HELP`/`# TYPE` of each per-tenant family, compressed once.
    headers: Vec<Part>,
    /// The per-tenant part of the last gzip body, shared until the store or the counters change.
    gzip: Mutex<Option<(BodyKey, Stream)>>,
    /// The per-tenant part of the last plain body: one joined buffer for a small deployment,
    /// the parts to inflate as they are sent for a large one.
    plain: Mutex<Option<(BodyKey, Pieces)>>,
    /// Joined blocks of tenants, by block number.
    blocks: Mutex<Vec<Block>>,
    /// [`JOIN_LIMIT`], a field so tests can cover both ways of holding blocks.
    join_limit: AtomicU64,
}

impl MetricsBody {
    /// The body of `store`'s tenants as `renderer` renders them, with `own`'s series.
    pub fn new(
        store: Arc<Store>,
        renderer: Arc<SeriesRenderer>,
        own: Arc<SelfMetrics>,
    ) -> Arc<MetricsBody> {
        let headers = renderer.headers().iter().map(|h| Part::new(h)).collect();
        Arc::new(MetricsBody {
            store,
            renderer,
            own,
            headers,
            gzip: Mutex::new(None),
            plain: Mutex::new(None),
            blocks: Mutex::new(Vec::new()),
            join_limit: AtomicU64::new(JOIN_LIMIT as u64),
        })
    }

    /// The renderer of the per-tenant series.
    pub fn renderer(&self) -> &Arc<SeriesRenderer> {
        &self.renderer
    }

    /// The exporter's own metrics.
    pub fn self_metrics(&self) -> &Arc<SelfMetrics> {
        &self.own
    }

    pub fn encode_tenant(&self, tenant: &str) -> Option<Vec<u8>> {
        let t = self.store.get(tenant)?;
        // The parts its last change rendered; nothing is rendered per request.
        let parts = match &t.rendered {
            Some(parts) => parts.clone(),
            None => Arc::new(self.renderer.render_parts(&t)),
        };
        let mut buf = Vec::new();
        for (header, part) in self.headers.iter().zip(parts.iter()) {
            if part.len > 0 {
                buf.extend_from_slice(&header.inflate());
                buf.extend_from_slice(&part.inflate());
            }
        }
        buf.extend_from_slice(&self.own.tenant_counters_text(tenant));
        Some(buf)
    }

    /// Every prepared part of the body, in order: per family its header and each block's run
    /// of its tenants' lines (tenants by name), then the per-tenant counters. Also what they
    /// were made from.
    fn runs(&self) -> (BodyKey, Vec<Run>) {
        use std::hash::{Hash, Hasher};
        let mut parts = Vec::new();
        let version = self.store.version();
        {
            let headers = &self.headers;
            let mut tenants = self.store.tenants();
            tenants.sort_by(|a, b| a.name.cmp(&b.name));
            let compressed: usize = tenants
                .iter()
                .filter_map(|t| t.rendered.as_ref())
                .flat_map(|r| r.iter())
                .map(|p| p.deflated.len())
                .sum();
            let join = compressed as u64 <= self.join_limit.load(Ordering::Relaxed);
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            let count = tenants.len().div_ceil(BLOCK);
            blocks.truncate(count);
            for (i, chunk) in tenants.chunks(BLOCK).enumerate() {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for t in chunk {
                    t.name.hash(&mut h);
                    t.changes.hash(&mut h);
                    t.rendered.as_ref().map(Arc::as_ptr).hash(&mut h);
                }
                join.hash(&mut h);
                let fingerprint = h.finish();
                if blocks.get(i).is_some_and(|b| b.fingerprint == fingerprint) {
                    continue;
                }
                let rendered: Vec<Arc<Vec<Part>>> = chunk
                    .iter()
                    .map(|t| match &t.rendered {
                        Some(r) => r.clone(),
                        // Not rendered yet (set up before the renderer): render it now.
                        None => Arc::new(self.renderer.render_parts(t)),
                    })
                    .collect();
                let families = (0..headers.len())
                    .map(|f| {
                        let parts = rendered.iter().filter_map(|r| r.get(f));
                        if join {
                            Run::joined(parts)
                        } else {
                            Run::new(parts)
                        }
                    })
                    .collect();
                let block = Block {
                    fingerprint,
                    families,
                };
                if i < blocks.len() {
                    blocks[i] = block;
                } else {
                    blocks.push(block);
                }
            }
            for (f, header) in headers.iter().enumerate() {
                let mut family = blocks
                    .iter()
                    .filter_map(|b| b.families.get(f))
                    .filter(|p| p.len > 0)
                    .peekable();
                if family.peek().is_none() {
                    continue;
                }
                parts.push(Run::new([header]));
                parts.extend(family.cloned());
            }
        }
        let (counters, part) = self.own.counters();
        parts.push(Run::new([&part]));
        ((version, counters), parts)
    }

    /// The per-tenant part of a body from `cache` while the store and the counters are as they
    /// were when it was built, else built from the current runs by `build` and kept.
    fn shared<T: Clone>(
        &self,
        cache: &Mutex<Option<(BodyKey, T)>>,
        build: impl FnOnce(&[Run]) -> T,
    ) -> T {
        let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
        let now = (self.store.version(), self.own.counters_version());
        if let Some((_, part)) = cached.as_ref().filter(|(k, _)| *k == now) {
            return part.clone();
        }
        // `runs` reads the versions before the data, so a change in between makes the next
        // scrape build again rather than serve stale data.
        let (key, runs) = self.runs();
        let part = build(&runs);
        *cached = Some((key, part.clone()));
        part
    }

    /// The exposition as segments of pieces: the per-tenant part (one cached buffer for small
    /// bodies, or the prepared parts, inflated as they are sent), then the exporter's own series.
    pub fn encode_pieces(&self) -> Vec<Pieces> {
        let tenants = self.shared(&self.plain, |runs| {
            let total: u64 = runs.iter().map(|r| r.len).sum();
            if total > PLAIN_CACHE_LIMIT {
                return runs.iter().flat_map(Run::pieces).collect();
            }
            let mut body = Vec::with_capacity(total as usize);
            for p in runs.iter().flat_map(|r| &r.parts) {
                p.inflate_into(&mut body);
            }
            Arc::new([Piece::Plain(body.into())])
        });
        let [own, process] = self.own.own_series();
        vec![
            tenants,
            Arc::new([Piece::Plain(own.1), Piece::Plain(process.1)]),
        ]
    }

    /// The whole exposition in text format 0.0.4.
    pub fn encode(&self) -> Vec<u8> {
        super::gzip::concat(&self.encode_pieces())
    }

    /// The exposition as one gzip member: the prepared parts' compressed bytes as they are;
    /// nothing is compressed for a scrape, and the list of the per-tenant frames is shared with
    /// every other scrape of the same data.
    pub fn encode_gzip_chunks(&self) -> Vec<Pieces> {
        let tenants = self.shared(&self.gzip, |runs| Stream::of(runs));
        let [own, process] = self.own.own_series();
        let tail = Stream::of([&Run::new([&own.0, &process.0])]);
        super::gzip::gzip(&[tenants, tail], b"")
    }

    /// [`MetricsBody::encode`] gzipped.
    pub fn encode_gzip(&self) -> Vec<u8> {
        super::gzip::concat(&self.encode_gzip_chunks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::failure::FailureReason;
    use crate::core::snapshot::TenantSnapshot;
    use crate::state::Publisher;
    use std::io::Read;
    use std::time::Duration;

    /// A body over `store` and the publisher that renders its changes.
    fn body_of(store: &Arc<Store>, join_limit: u64) -> (Arc<MetricsBody>, Publisher) {
        let renderer = Arc::new(SeriesRenderer::new(Duration::from_secs(3600)));
        let body = MetricsBody::new(store.clone(), renderer.clone(), SelfMetrics::new());
        body.join_limit.store(join_limit, Ordering::Relaxed);
        (body, Publisher::new(store.clone(), renderer))
    }

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn a_tenant_is_rendered_once_per_change_not_per_scrape() {
        let store = Arc::new(Store::new([("a", "id-a")]));
        let (metrics, publisher) = body_of(&store, u64::MAX);
        let rendered = || store.tenants()[0].rendered.clone().unwrap();
        let first = rendered();
        let _ = metrics.encode();
        let _ = metrics.encode_gzip();
        assert!(Arc::ptr_eq(&first, &rendered()), "scrapes do not re-render");
        publisher.record_failure("a", "x".into());
        let changed = rendered();
        assert!(
            !Arc::ptr_eq(&first, &changed),
            "a change renders the tenant again"
        );
        let text = String::from_utf8(metrics.encode()).unwrap();
        let zipped = String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("process_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&zipped),
            strip(&text),
            "gzip carries the same exposition"
        );
        assert!(text.contains("securescore_up{tenant=\"a\"} 0"));
        // A cached gzip body never outlives a change of any counter.
        let zipped = || String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
        metrics
            .self_metrics()
            .refresh_failed("a", FailureReason::Http);
        assert!(
            zipped().contains("securescore_refresh_failures_total{reason=\"http\",tenant=\"a\"} 1")
        );
        metrics.self_metrics().graph_request("token", "200");
        assert!(zipped()
            .contains("securescore_graph_requests_total{code=\"200\",endpoint=\"token\"} 1"));
        metrics.self_metrics().set_config_reload_successful(false);
        assert!(zipped().contains("securescore_config_last_reload_successful 0"));
        assert!(text.contains("securescore_exporter_build_info"));
    }

    #[test]
    fn scrapes_share_the_per_tenant_part_until_something_changes() {
        let (store, snapshots) = fleet_store();
        let (metrics, publisher) = body_of(&store, u64::MAX);
        for (i, t) in store.tenants().iter().enumerate() {
            publisher.record_success(&t.name, snapshots[i % 3].clone());
        }
        let same =
            |a: &[Pieces], b: &[Pieces]| a.iter().any(|x| b.iter().any(|y| Arc::ptr_eq(x, y)));
        let (gz1, gz2) = (metrics.encode_gzip_chunks(), metrics.encode_gzip_chunks());
        assert!(
            same(&gz1, &gz2),
            "two gzip scrapes share the tenants' frames"
        );
        let (p1, p2) = (metrics.encode_pieces(), metrics.encode_pieces());
        assert!(
            Arc::ptr_eq(&p1[0], &p2[0]),
            "two plain scrapes share the tenants' text"
        );
        publisher.record_failure("t075", "boom".into());
        assert!(
            !same(&gz2, &metrics.encode_gzip_chunks()),
            "a change builds the frames again"
        );
        assert!(!Arc::ptr_eq(&p2[0], &metrics.encode_pieces()[0]));
        let before = metrics.encode_pieces();
        metrics
            .self_metrics()
            .refresh_failed("t001", FailureReason::Http);
        let after = metrics.encode_pieces();
        assert!(!Arc::ptr_eq(&before[0], &after[0]), "a counter change too");
        assert!(String::from_utf8(super::super::gzip::concat(&after))
            .unwrap()
            .contains("securescore_refresh_failures_total{reason=\"http\",tenant=\"t001\"} 1"));
    }

    /// 150 tenants (three blocks) of simulator data under three snapshots.
    fn fleet_store() -> (Arc<Store>, Vec<TenantSnapshot>) {
        let today = time::macros::date!(2026 - 11 - 27);
        let snapshots: Vec<_> = securescore_sim::spec::fleet_tenants(3, 1)
            .iter()
            .map(|spec| {
                let data = securescore_sim::generate::generate(spec, today);
                TenantSnapshot::from_json(&data.records, &data.profiles)
            })
            .collect();
        // Names not in order, so the output's tenant order is the exporter's doing.
        let names: Vec<String> = (0..150)
            .map(|i| format!("t{:03}", (i * 37) % 150))
            .collect();
        let store = Arc::new(Store::new(names.iter().map(|n| (n.as_str(), "id"))));
        (store, snapshots)
    }

    fn without_process(text: &str) -> Vec<String> {
        // The process series change between two encodings (CPU seconds, memory).
        text.lines()
            .filter(|l| !l.contains("process_"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn joined_blocks_give_exactly_a_fresh_rendering_in_both_holding_modes() {
        for join_limit in [u64::MAX, 0] {
            let (store, snapshots) = fleet_store();
            let (metrics, publisher) = body_of(&store, join_limit);
            let collector = metrics.renderer().clone();
            let fresh = || String::from_utf8(collector.render(&store.tenants())).unwrap();
            let check = |what: &str| {
                let want = fresh();
                let plain = String::from_utf8(metrics.encode()).unwrap();
                let zipped = String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
                assert!(
                    plain.starts_with(&want),
                    "{what} (join limit {join_limit}): plain differs"
                );
                assert!(
                    zipped.starts_with(&want),
                    "{what} (join limit {join_limit}): gzip differs"
                );
                assert_eq!(without_process(&plain), without_process(&zipped));
                // One HELP per family: families are contiguous across blocks.
                let helps: Vec<&str> = plain.lines().filter(|l| l.starts_with("# HELP")).collect();
                let unique: std::collections::HashSet<_> = helps.iter().collect();
                assert_eq!(helps.len(), unique.len(), "{what}");
            };
            check("nothing refreshed yet");
            for (i, t) in store.tenants().iter().enumerate() {
                publisher.record_success(&t.name, snapshots[i % 3].clone());
            }
            check("every tenant refreshed");
            let text = String::from_utf8(metrics.encode()).unwrap();
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with("securescore_up{"))
                    .count(),
                150
            );
            // One tenant in the middle block changes; one is removed; one is added.
            publisher.record_failure("t075", "boom".into());
            check("a failure in one block");
            publisher.remove("t010");
            publisher.add("t999", "id");
            check("a tenant removed and one added");
            assert!(!String::from_utf8(metrics.encode())
                .unwrap()
                .contains("tenant=\"t010\""));
        }
    }
}
