//! The stream of sandbox pods that stop: a label-selected list for a starting point, then a
//! watch from it, renewed whenever the API server ends one (it does every few minutes).

use std::collections::HashSet;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

use super::errors::classify;
use super::state::{pod_state, PodState};
use crate::sandbox::{ContainerId, SandboxError, StoppedContainer, StoppedStream, SESSION_LABEL};

/// Seconds one watch request stays open (kube-rs allows under 295); then it is renewed.
const WATCH_SECS: u32 = 280;

/// Where the watch stands between items.
struct Watching {
    api: Api<Pod>,
    selector: String,
    endpoint: String,
    /// The last resource version seen: a renewed watch resumes there, missing nothing.
    version: String,
    events: Option<BoxStream<'static, kube::Result<WatchEvent<Pod>>>>,
    /// Pods already reported, so a pod's later updates (and its deletion) are not reported
    /// again; a pod leaves the set when its deletion is seen.
    reported: HashSet<String>,
}

/// Reports every pod matching `selector` that stops from now on. Ends with an error when the
/// API server fails or forgets the resource version (410 Gone): the caller starts afresh.
pub async fn stopped(
    api: Api<Pod>,
    selector: String,
    endpoint: String,
) -> Result<StoppedStream, SandboxError> {
    let list = api
        .list(&ListParams::default().labels(&selector).limit(1))
        .await
        .map_err(|e| classify("list sandbox pods", &endpoint, e))?;
    let version = list.metadata.resource_version.unwrap_or_default();
    let state = Watching {
        api,
        selector,
        endpoint,
        version,
        events: None,
        reported: HashSet::new(),
    };
    Ok(futures_util::stream::unfold(Some(state), next).boxed())
}

/// The next stopped pod, renewing the watch as needed; `None` state ends the stream.
async fn next(
    state: Option<Watching>,
) -> Option<(Result<StoppedContainer, SandboxError>, Option<Watching>)> {
    let mut state = state?;
    loop {
        let events = match state.events.as_mut() {
            Some(events) => events,
            None => {
                let params = WatchParams::default()
                    .labels(&state.selector)
                    .timeout(WATCH_SECS);
                match state.api.watch(&params, &state.version).await {
                    Ok(events) => state.events.insert(events.boxed()),
                    Err(error) => {
                        let error = classify("watch sandbox pods", &state.endpoint, error);
                        return Some((Err(error), None));
                    }
                }
            }
        };
        let (pod, deleted) = match events.next().await {
            // The server closed this watch: open the next from where it ended.
            None => {
                state.events = None;
                continue;
            }
            Some(Err(error)) => {
                let error = classify("watch sandbox pods", &state.endpoint, error);
                return Some((Err(error), None));
            }
            Some(Ok(WatchEvent::Error(status))) => {
                let detail = format!("{} {}: {}", status.code, status.reason, status.message);
                let error = SandboxError::Engine {
                    action: "watch sandbox pods",
                    detail,
                };
                return Some((Err(error), None));
            }
            Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                state.version = bookmark.metadata.resource_version;
                continue;
            }
            Some(Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod))) => (pod, false),
            Some(Ok(WatchEvent::Deleted(pod))) => (pod, true),
        };
        if let Some(version) = &pod.metadata.resource_version {
            state.version.clone_from(version);
        }
        if let Some(stopped) = report(&mut state.reported, &pod, deleted) {
            return Some((Ok(stopped), Some(state)));
        }
    }
}

/// The report for `pod` if it has just stopped (or gone) and was not reported yet.
fn report(reported: &mut HashSet<String>, pod: &Pod, deleted: bool) -> Option<StoppedContainer> {
    let name = pod.metadata.name.clone()?;
    let exit_code = match pod_state(pod) {
        PodState::Over { exit_code } => exit_code,
        // Deleted before it stopped (removed by someone else): gone all the same.
        _ if deleted => None,
        _ => return None,
    };
    let first = if deleted {
        !reported.remove(&name)
    } else {
        reported.insert(name.clone())
    };
    let session = pod.metadata.labels.as_ref()?.get(SESSION_LABEL)?.clone();
    first.then_some(StoppedContainer {
        id: ContainerId(name),
        session,
        exit_code,
    })
}
