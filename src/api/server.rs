//! The HTTP server: Docker Engine API's network endpoints, `/_ping` and
//! `/version`, and bridgewall's own sandbox endpoints, over a Unix socket,
//! for an [`Engine`].
//!
//! As in Docker, every route is served both bare (`/networks`) and under an
//! API version (`/v1.51/networks`); a version above [`API_VERSION`] or below
//! [`MIN_API_VERSION`] is refused with Docker's message. Errors are
//! `{"message": ...}` with Docker's statuses, unknown routes are
//! `page not found` (404).

use std::collections::BTreeMap;
use std::fs::Permissions;
use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixListener;

use crate::firewall::Family;

use super::engine::Engine;
use super::error::ApiError;
use super::filters::{Filters, NETWORK_LIST_FILTERS, filter_networks};
use super::sandbox::SandboxCreateRequest;
use super::types::{
    ComponentVersion, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    Platform, SystemVersion,
};
use super::{API_VERSION, MIN_API_VERSION};

/// The engine as the handlers share it.
type AppState = Arc<dyn Engine>;

/// Serves the API on `listener` until `shutdown` completes, then stops
/// accepting and waits for the open connections to finish.
pub async fn serve(
    listener: UnixListener,
    engine: Arc<dyn Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds a Unix socket at `path` with permissions `mode` (Docker's is 0660,
/// [`super::DEFAULT_SOCKET_MODE`]). A socket left by a daemon that is gone
/// is replaced; one that still accepts connections, or a path that is not a
/// socket, is an error. Must be called within a Tokio runtime.
pub fn bind_unix_socket(path: &Path, mode: u32) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another daemon is listening there", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// Gives the socket at `path` to the group `group` when that group exists
/// (as Docker gives its socket to `docker`); returns whether it did.
pub fn give_socket_to_group(path: &Path, group: &str) -> io::Result<bool> {
    let Some(group) = nix::unistd::Group::from_name(group).map_err(io::Error::from)? else {
        return Ok(false);
    };
    nix::unistd::chown(path, None, Some(group.gid)).map_err(io::Error::from)?;
    Ok(true)
}

/// All routes, for `engine`, wrapped in the Docker middleware (API version
/// prefix and check, Docker's response headers, request logging).
pub fn router(engine: Arc<dyn Engine>) -> Router {
    let routes = Router::new()
        .merge(docker_routes())
        // bridgewall's own endpoints, beside Docker's: they get the same
        // version prefix and headers.
        .merge(sandbox_routes())
        .fallback(page_not_found)
        .method_not_allowed_fallback(page_not_found)
        .with_state(engine);
    // The middleware must see requests before routing, to strip the version
    // prefix: it wraps a router whose only route is the fallback.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(docker_middleware))
}

/// The Docker Engine API endpoints bridgewall serves.
fn docker_routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping_head))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/networks", get(list_networks))
        // A network may be named `create` or `prune`: as in Docker, GET and
        // DELETE on these paths inspect and remove it.
        .route(
            "/networks/create",
            post(create_network)
                .get(inspect_network)
                .delete(remove_network),
        )
        .route(
            "/networks/prune",
            post(prune_networks)
                .get(inspect_network)
                .delete(remove_network),
        )
        .route(
            "/networks/{id}",
            get(inspect_network).delete(remove_network),
        )
        .route("/networks/{id}/connect", post(connect_network))
        .route("/networks/{id}/disconnect", post(disconnect_network))
}

/// bridgewall's sandbox endpoints, shaped like Docker's container ones.
fn sandbox_routes() -> Router<AppState> {
    Router::new()
        .route("/sandboxes", get(list_sandboxes))
        // A sandbox may be named `create`: DELETE on this path removes it.
        .route(
            "/sandboxes/create",
            post(create_sandbox).delete(remove_sandbox),
        )
        .route("/sandboxes/{id}", delete(remove_sandbox))
        .route("/sandboxes/{id}/json", get(inspect_sandbox))
        .route("/sandboxes/{id}/logs", get(sandbox_logs))
        .route("/sandboxes/{id}/wait", post(wait_sandbox))
        .route("/rules", get(rules))
}

/// Compares dotted versions as Docker's `versions.compare`: numerically,
/// part by part, a missing or non-numeric part counting as 0.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(a), parts(b));
    (0..a.len().max(b.len()))
        .map(|i| {
            let at = |v: &[u64]| v.get(i).copied().unwrap_or(0);
            at(&a).cmp(&at(&b))
        })
        .find(|ord| ord.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Splits Docker's `/v{version:[0-9.]+}` prefix off `path`: the version and
/// the rest (which starts with `/`).
fn split_version_prefix(path: &str) -> Option<(&str, &str)> {
    let after_v = path.strip_prefix("/v")?;
    let slash = after_v.find('/')?;
    let (version, rest) = after_v.split_at(slash);
    let valid = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    valid.then_some((version, rest))
}

/// Refuses an API version this server does not speak, with Docker's words.
fn check_api_version(version: &str) -> Result<(), ApiError> {
    if compare_versions(version, MIN_API_VERSION).is_lt() {
        return Err(ApiError::invalid_parameter(format!(
            "client version {version} is too old. Minimum supported API version is \
             {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if compare_versions(version, API_VERSION).is_gt() {
        return Err(ApiError::invalid_parameter(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(())
}

/// The API version a request asked for (its prefix, else [`API_VERSION`]).
#[derive(Debug, Clone)]
struct RequestedVersion(String);

/// Strips and checks the version prefix, sets Docker's headers on every
/// response, and logs the request.
async fn docker_middleware(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let checked = match split_version_prefix(uri.path()) {
        None => {
            req.extensions_mut()
                .insert(RequestedVersion(API_VERSION.to_string()));
            Ok(())
        }
        Some((version, rest)) => check_api_version(version).and_then(|()| {
            req.extensions_mut()
                .insert(RequestedVersion(version.to_string()));
            let rest = match uri.query() {
                Some(query) => format!("{rest}?{query}"),
                None => rest.to_string(),
            };
            let rewritten: Uri = rest
                .parse()
                .map_err(|_| ApiError::invalid_parameter(format!("invalid path {uri}")))?;
            *req.uri_mut() = rewritten;
            Ok(())
        }),
    };
    let mut response = match checked {
        Ok(()) => next.run(req).await,
        Err(err) => err.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            "server",
            concat!("bridgewall/", env!("CARGO_PKG_VERSION"), " (linux)"),
        ),
        ("api-version", API_VERSION),
        ("ostype", "linux"),
        ("docker-experimental", "false"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    tracing::debug!(
        %method,
        %uri,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "api request"
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(status = self.status, message = %self.message, "api error");
        }
        json_response(
            status,
            &super::types::ErrorResponse {
                message: self.message,
            },
        )
    }
}

/// A JSON response as Go's `httputils.WriteJSON` writes it (with the
/// encoder's trailing newline).
fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            (status, [(CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(err) => ApiError::internal(format!("encoding the response: {err}")).into_response(),
    }
}

/// Docker's answer to an unknown route or method.
async fn page_not_found() -> ApiError {
    ApiError::not_found("page not found")
}

/// The query string's parameters; like Go's `Form.Get`, [`Query::get`]
/// gives a key's first value.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `filters` parameter, parsed.
    fn filters(&self) -> Result<Filters, ApiError> {
        Filters::from_json(self.get("filters").unwrap_or(""))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|err| ApiError::invalid_parameter(err.body_text()))?;
        Ok(Query(pairs))
    }
}

/// The `{id}` of a `/networks/{id}...` or `/sandboxes/{id}...` route, or
/// the last path segment on the fixed routes that also name an object
/// (`/networks/create`, `/networks/prune`, `/sandboxes/create`).
struct PathId(String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let param = axum::extract::Path::<String>::from_request_parts(parts, state).await;
        match param {
            Ok(axum::extract::Path(id)) => Ok(PathId(id)),
            Err(_) => match parts.uri.path().rsplit('/').next() {
                Some(last) if !last.is_empty() => Ok(PathId(last.to_string())),
                _ => Err(ApiError::not_found("page not found")),
            },
        }
    }
}

/// A JSON body read as Docker's `httputils.ReadJSON`: the `Content-Type`
/// must be `application/json` unless there is no body; an empty body is the
/// zero value; an error is `invalid JSON: ...` (400).
struct DockerJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for DockerJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|err| ApiError::invalid_parameter(err.body_text()))?;
        read_json(content_type.as_deref(), &body).map(DockerJson)
    }
}

/// The body rules of [`DockerJson`], on a content type and a body.
fn read_json<T: DeserializeOwned + Default>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    let content_type = content_type.unwrap_or("");
    if !(content_type.is_empty() && body.is_empty()) {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.is_empty() {
            return Err(ApiError::invalid_parameter(format!(
                "malformed Content-Type header ({content_type}): mime: no media type"
            )));
        }
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::invalid_parameter(format!(
                "unsupported Content-Type header ({content_type}): must be 'application/json'"
            )));
        }
    }
    if body.is_empty() {
        return Ok(T::default());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_parameter(
            "invalid JSON: got EOF while reading request body",
        ));
    }
    let mut decoder = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(&mut decoder)
        .map_err(|err| ApiError::invalid_parameter(format!("invalid JSON: {err}")))?;
    decoder
        .end()
        .map_err(|_| ApiError::invalid_parameter("unexpected content after JSON"))?;
    Ok(value)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's `httputils.BoolValue`: a query flag is set unless absent, empty,
/// `0`, `no`, `false` or `none` (any case, surrounding spaces ignored).
fn bool_value(value: Option<&str>) -> bool {
    let value = value.unwrap_or("").trim().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
}

/// The headers of Docker's `/_ping`, without swarm and builder.
fn ping_response(body: &'static str) -> Response {
    (
        [
            (CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (PRAGMA, "no-cache"),
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        [("swarm", "inactive")],
        Body::from(body),
    )
        .into_response()
}

/// `GET /_ping`: `OK`.
async fn ping() -> Response {
    ping_response("OK")
}

/// `HEAD /_ping`: the headers only.
async fn ping_head() -> Response {
    ping_response("")
}

/// Go's name for this machine's architecture (`GOARCH`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// `GET /version`: Docker's shape, describing bridgewall.
async fn version() -> Response {
    let version = env!("CARGO_PKG_VERSION");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_string())
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &SystemVersion {
            platform: Platform {
                name: "bridgewall".into(),
            },
            components: vec![ComponentVersion {
                name: "bridgewall".into(),
                version: version.into(),
                // The docker CLI prints the legacy fields below as the
                // engine's details; repeating them here only adds noise.
                details: BTreeMap::new(),
            }],
            version: version.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: String::new(),
            go_version: String::new(),
            os: "linux".into(),
            arch: go_arch().into(),
            kernel_version: kernel,
        },
    )
}

/// `GET /networks`. As Docker, from API 1.28 on the list leaves out each
/// network's `Containers` (inspect has them).
async fn list_networks(
    State(engine): State<AppState>,
    Extension(RequestedVersion(version)): Extension<RequestedVersion>,
    query: Query,
) -> Result<Response, ApiError> {
    let filters = query.filters()?;
    filters.validate(NETWORK_LIST_FILTERS)?;
    let mut networks = filter_networks(engine.list_networks().await?, &filters)?;
    if compare_versions(&version, "1.28").is_ge() {
        for network in &mut networks {
            network.containers.clear();
        }
    }
    Ok(json_response(StatusCode::OK, &networks))
}

/// `GET /networks/{id}`.
async fn inspect_network(
    State(engine): State<AppState>,
    PathId(id): PathId,
    query: Query,
) -> Result<Response, ApiError> {
    let verbose = match query.get("verbose").filter(|v| !v.is_empty()) {
        None => false,
        Some(v) => parse_go_bool(v).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "invalid value for verbose: {v}: strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))
        })?,
    };
    let network = engine.inspect_network(&id, verbose).await?;
    Ok(json_response(StatusCode::OK, &network))
}

/// `POST /networks/create`.
async fn create_network(
    State(engine): State<AppState>,
    DockerJson(req): DockerJson<NetworkCreateRequest>,
) -> Result<Response, ApiError> {
    let created = engine.create_network(req).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// `DELETE /networks/{id}`.
async fn remove_network(
    State(engine): State<AppState>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    engine.remove_network(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune`.
async fn prune_networks(
    State(engine): State<AppState>,
    query: Query,
) -> Result<Response, ApiError> {
    let filters = query.filters()?;
    let predicate = filters.prune(SystemTime::now())?;
    let report = engine.prune_networks(&predicate).await?;
    Ok(json_response(StatusCode::OK, &report))
}

/// `POST /networks/{id}/connect`.
async fn connect_network(
    State(engine): State<AppState>,
    PathId(id): PathId,
    DockerJson(req): DockerJson<NetworkConnectRequest>,
) -> Result<StatusCode, ApiError> {
    engine.connect_network(&id, req).await?;
    Ok(StatusCode::OK)
}

/// `POST /networks/{id}/disconnect`.
async fn disconnect_network(
    State(engine): State<AppState>,
    PathId(id): PathId,
    DockerJson(req): DockerJson<NetworkDisconnectRequest>,
) -> Result<StatusCode, ApiError> {
    engine.disconnect_network(&id, req).await?;
    Ok(StatusCode::OK)
}

/// `POST /sandboxes/create` (201).
async fn create_sandbox(
    State(engine): State<AppState>,
    DockerJson(req): DockerJson<SandboxCreateRequest>,
) -> Result<Response, ApiError> {
    let created = engine.create_sandbox(req).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// `GET /sandboxes?all=1`.
async fn list_sandboxes(
    State(engine): State<AppState>,
    query: Query,
) -> Result<Response, ApiError> {
    let sandboxes = engine.list_sandboxes(bool_value(query.get("all"))).await?;
    Ok(json_response(StatusCode::OK, &sandboxes))
}

/// `GET /sandboxes/{id}/json`.
async fn inspect_sandbox(
    State(engine): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let sandbox = engine.inspect_sandbox(&id).await?;
    Ok(json_response(StatusCode::OK, &sandbox))
}

/// `DELETE /sandboxes/{id}?force=1` (204).
async fn remove_sandbox(
    State(engine): State<AppState>,
    PathId(id): PathId,
    query: Query,
) -> Result<StatusCode, ApiError> {
    engine
        .remove_sandbox(&id, bool_value(query.get("force")))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /sandboxes/{id}/logs`: the output as text.
async fn sandbox_logs(
    State(engine): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let logs = engine.sandbox_logs(&id).await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(logs),
    )
        .into_response())
}

/// `GET /info`.
async fn info(State(engine): State<AppState>) -> Result<Response, ApiError> {
    let info = engine.info().await?;
    Ok(json_response(StatusCode::OK, &info))
}

/// `GET /rules?family=ipv4|ipv6`.
async fn rules(State(engine): State<AppState>, query: Query) -> Result<Response, ApiError> {
    let families = match query.get("family").unwrap_or("") {
        "" => Family::ALL.to_vec(),
        "ipv4" => vec![Family::V4],
        "ipv6" => vec![Family::V6],
        other => {
            return Err(ApiError::invalid_parameter(format!(
                "invalid family {other:?}: ipv4 or ipv6"
            )));
        }
    };
    let report = engine.rules(families).await?;
    Ok(json_response(StatusCode::OK, &report))
}

/// `POST /sandboxes/{id}/wait`.
async fn wait_sandbox(
    State(engine): State<AppState>,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let exited = engine.wait_sandbox(&id).await?;
    Ok(json_response(StatusCode::OK, &exited))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_as_docker_compares_them() {
        assert_eq!(compare_versions("1.51", "1.51"), Ordering::Equal);
        assert_eq!(compare_versions("1.51.0", "1.51"), Ordering::Equal);
        assert_eq!(compare_versions("1.9", "1.24"), Ordering::Less);
        assert_eq!(compare_versions("1.100", "1.51"), Ordering::Greater);
        assert_eq!(compare_versions("2", "1.51"), Ordering::Greater);
        assert_eq!(compare_versions("1..2", "1.24"), Ordering::Less);
    }

    #[test]
    fn version_prefix() {
        assert_eq!(
            split_version_prefix("/v1.51/networks"),
            Some(("1.51", "/networks"))
        );
        assert_eq!(split_version_prefix("/v1/_ping"), Some(("1", "/_ping")));
        assert_eq!(split_version_prefix("/v1.51"), None);
        assert_eq!(split_version_prefix("/v/networks"), None);
        assert_eq!(split_version_prefix("/vx/networks"), None);
        assert_eq!(split_version_prefix("/version"), None);
        assert_eq!(split_version_prefix("/networks"), None);
    }

    #[test]
    fn api_versions_outside_the_range_are_refused() {
        assert!(check_api_version("1.24").is_ok());
        assert!(check_api_version("1.50").is_ok());
        assert!(check_api_version("1.51").is_ok());
        assert_eq!(
            check_api_version("1.52"),
            Err(ApiError::invalid_parameter(
                "client version 1.52 is too new. Maximum supported API version is 1.51"
            ))
        );
        assert_eq!(
            check_api_version("1.23"),
            Err(ApiError::invalid_parameter(
                "client version 1.23 is too old. Minimum supported API version is 1.24, \
                 please upgrade your client to a newer version"
            ))
        );
    }

    #[test]
    fn bodies_are_read_as_docker_reads_them() {
        type Req = NetworkDisconnectRequest;
        let json = Some("application/json");
        let ok: Req = read_json(json, br#"{"Container":"c","Force":true}"#).unwrap();
        assert!(ok.force);
        let ok: Req = read_json(
            Some("application/json; charset=utf-8"),
            br#" {"Container":"c"} "#,
        )
        .unwrap();
        assert_eq!(ok.container, "c");
        // No body at all: the zero value, with or without a content type.
        assert_eq!(read_json::<Req>(None, b"").unwrap(), Req::default());
        assert_eq!(read_json::<Req>(json, b"").unwrap(), Req::default());
        let err = |ct, body: &[u8]| read_json::<Req>(ct, body).unwrap_err().message;
        assert_eq!(
            err(Some("text/plain"), b"{}"),
            "unsupported Content-Type header (text/plain): must be 'application/json'"
        );
        assert_eq!(
            err(None, b"{}"),
            "malformed Content-Type header (): mime: no media type"
        );
        assert_eq!(
            err(json, b"  \n"),
            "invalid JSON: got EOF while reading request body"
        );
        assert!(err(json, b"{\"Force\":").starts_with("invalid JSON: "));
        assert!(err(json, br#"{"Force":"yes"}"#).starts_with("invalid JSON: invalid type"));
        assert_eq!(err(json, b"{} {}"), "unexpected content after JSON");
        assert_eq!(
            read_json::<Req>(Some("text/plain"), b"{}")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn go_bools() {
        assert_eq!(parse_go_bool("1"), Some(true));
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("F"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }

    #[test]
    fn query_flags_are_read_as_docker_reads_them() {
        for set in ["1", "true", "True", " yes ", "anything"] {
            assert!(bool_value(Some(set)), "{set:?}");
        }
        for unset in ["", "0", "no", "FALSE", "None", " false "] {
            assert!(!bool_value(Some(unset)), "{unset:?}");
        }
        assert!(!bool_value(None));
    }

    #[tokio::test]
    async fn stale_sockets_are_replaced_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = bind_unix_socket(&path, 0o660).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // Still listening: refused.
        let err = bind_unix_socket(&path, 0o660).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(listener);
        // Left behind by a daemon that is gone: replaced.
        let _again = bind_unix_socket(&path, 0o600).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Not a socket: never removed.
        let file = dir.path().join("file");
        std::fs::write(&file, "keep").unwrap();
        assert_eq!(
            bind_unix_socket(&file, 0o660).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }

    #[tokio::test]
    async fn the_socket_goes_to_its_group_when_the_group_exists() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let _listener = bind_unix_socket(&path, 0o660).unwrap();
        // Debian's `nogroup` stands in for `bridgewall` (no group is made).
        let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
        assert!(give_socket_to_group(&path, "nogroup").unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().gid(),
            nogroup.gid.as_raw()
        );
        assert!(!give_socket_to_group(&path, "no-such-group-here").unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().gid(),
            nogroup.gid.as_raw()
        );
    }
}
