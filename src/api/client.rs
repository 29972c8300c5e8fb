//! A small client for the daemon's Unix socket: JSON requests to the API,
//! errors surfaced as Docker's client surfaces them.

use std::io;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::types::ErrorResponse;
use super::{API_VERSION, DEFAULT_SOCKET};

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepts connections on the socket.
    #[error(
        "Cannot connect to the bridgewall daemon at unix://{}. Is the daemon running?",
        socket.display()
    )]
    Connect {
        /// The socket tried.
        socket: PathBuf,
        /// Why connecting failed.
        #[source]
        source: io::Error,
    },
    /// The daemon answered with an error. Displays as the docker CLI prints
    /// daemon errors: `Error response from daemon: MESSAGE`.
    #[error("Error response from daemon: {message}")]
    Daemon {
        /// The kind of error, from the HTTP status.
        kind: crate::error::ErrorKind,
        /// HTTP status.
        status: u16,
        /// The daemon's `message`, verbatim (trimmed).
        message: String,
    },
    /// The HTTP exchange failed.
    #[error("talking to the bridgewall daemon: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a bad path).
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The request body could not be encoded.
    #[error("encoding the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The daemon's answer was not the JSON expected.
    #[error("reading the daemon's response: {0}")]
    Decode(#[source] serde_json::Error),
    /// A host that is not `unix://PATH`.
    #[error(
        "unsupported host {0:?}: bridgewall listens on a Unix socket only (unix:///path/to.sock)"
    )]
    InvalidHost(String),
}

/// The socket a `-H`/`BRIDGEWALL_HOST` value names: `unix://PATH`, with
/// `unix://` alone meaning [`DEFAULT_SOCKET`].
pub fn socket_from_host(host: &str) -> Result<PathBuf, ClientError> {
    match host.trim().strip_prefix("unix://") {
        Some("") => Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(path) => Ok(PathBuf::from(path)),
        None => Err(ClientError::InvalidHost(host.to_string())),
    }
}

/// The daemon's socket: from `-H` (`flag`) if given, else from
/// [`super::HOST_ENV`] (`env`, its value) if set and not empty, else
/// [`DEFAULT_SOCKET`].
pub fn resolve_socket(flag: Option<&str>, env: Option<&str>) -> Result<PathBuf, ClientError> {
    match flag.or(env.filter(|value| !value.is_empty())) {
        Some(host) => socket_from_host(host),
        None => Ok(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// A client of the daemon's API. Each request opens its own connection.
///
/// Paths are API paths such as `/networks` or `/networks/n1?verbose=1`;
/// they are sent under the version prefix, `/v1.51/networks`.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client of the daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client {
            socket: socket.into(),
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path`, decoding the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(&self.send(Method::GET, path, None).await?)
    }

    /// `GET path`, the answer as text (for the endpoints that answer
    /// `text/plain`, such as a sandbox's logs); invalid UTF-8 is replaced.
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let body = self.send(Method::GET, path, None).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `POST path` with `body` as JSON, decoding the JSON answer (use `()`
    /// for an empty one).
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(ClientError::Encode)?;
        decode(&self.send(Method::POST, path, Some(body)).await?)
    }

    /// `POST path` without a body, decoding the JSON answer.
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(&self.send(Method::POST, path, None).await?)
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.send(Method::DELETE, path, None).await.map(drop)
    }

    /// Sends one request on a new connection; the answer's body when the
    /// status is a success, else the daemon's error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ClientError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header(HOST, "bridgewall")
            .header(
                USER_AGENT,
                concat!("bridgewall/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;

        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Connect {
                    socket: self.socket.clone(),
                    source,
                })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let response = sender.send_request(request).await;
        let outcome = match response {
            Ok(response) => {
                let status = response.status();
                let is_json = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                let body = response.into_body().collect().await?.to_bytes();
                if status.is_success() {
                    Ok(body)
                } else {
                    Err(daemon_error(status, is_json, &body))
                }
            }
            Err(err) => Err(ClientError::Http(err)),
        };
        drop(sender);
        // The connection ends with the exchange; its own error, if any, is
        // already the request's.
        let _ = driver.await;
        outcome
    }
}

/// The error an unsuccessful answer stands for, worded as Docker's client
/// words it: the JSON `message`, else the body's text, else a note that the
/// daemon said nothing.
fn daemon_error(status: StatusCode, is_json: bool, body: &[u8]) -> ClientError {
    let reason = status.canonical_reason().unwrap_or("");
    let message = if body.is_empty() {
        format!(
            "request returned {} {reason} for API route and version {API_VERSION}, \
             check if the server supports the requested API version",
            status.as_u16()
        )
    } else if is_json {
        match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(err) if !err.message.trim().is_empty() => err.message.trim().to_string(),
            _ => format!(
                "API returned a {} ({reason}) but provided no error-message",
                status.as_u16()
            ),
        }
    } else {
        String::from_utf8_lossy(body).trim().to_string()
    };
    ClientError::Daemon {
        kind: super::error::kind_of(status.as_u16()),
        status: status.as_u16(),
        message,
    }
}

/// Decodes a success body; an empty one decodes as JSON `null`, so that
/// `()` reads the answers that have no body.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    let body = if body.is_empty() {
        b"null".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(ClientError::Decode)
}

/// Percent-encodes everything but RFC 3986's unreserved characters: a name
/// or ID as one segment of an API path, or a query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(percent_encode("web-1.a_b~"), "web-1.a_b~");
        assert_eq!(percent_encode("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn hosts() {
        assert_eq!(
            socket_from_host("unix:///tmp/x.sock").unwrap(),
            PathBuf::from("/tmp/x.sock")
        );
        assert_eq!(
            socket_from_host("unix://").unwrap(),
            PathBuf::from("/run/bridgewall.sock")
        );
        assert_eq!(
            socket_from_host("unix://rel.sock").unwrap(),
            PathBuf::from("rel.sock")
        );
        for bad in ["tcp://127.0.0.1:2375", "/tmp/x.sock", "", "ssh://host"] {
            let err = socket_from_host(bad).unwrap_err();
            assert!(
                matches!(&err, ClientError::InvalidHost(h) if h == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn flag_then_env_then_default() {
        let sock = |flag, env| resolve_socket(flag, env).unwrap();
        assert_eq!(
            sock(Some("unix:///a"), Some("unix:///b")),
            PathBuf::from("/a")
        );
        assert_eq!(sock(None, Some("unix:///b")), PathBuf::from("/b"));
        assert_eq!(sock(None, Some("")), PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(sock(None, None), PathBuf::from(DEFAULT_SOCKET));
        assert!(resolve_socket(None, Some("tcp://x")).is_err());
    }

    #[test]
    fn daemon_errors_are_worded_as_docker_words_them() {
        let msg = |status: u16, json, body: &[u8]| match daemon_error(
            StatusCode::from_u16(status).unwrap(),
            json,
            body,
        ) {
            ClientError::Daemon { message, .. } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg(404, true, b"{\"message\":\"network x not found\"}\n"),
            "network x not found"
        );
        assert_eq!(
            msg(500, true, b"{}"),
            "API returned a 500 (Internal Server Error) but provided no error-message"
        );
        assert_eq!(msg(502, false, b" bad gateway \n"), "bad gateway");
        assert!(msg(404, false, b"").starts_with("request returned 404 Not Found for API route"));
        let err = daemon_error(
            StatusCode::NOT_FOUND,
            true,
            b"{\"message\":\"network x not found\"}",
        );
        assert_eq!(
            err.to_string(),
            "Error response from daemon: network x not found"
        );
    }

    #[test]
    fn empty_success_bodies_decode_as_unit() {
        decode::<()>(b"").unwrap();
        assert_eq!(decode::<Vec<u8>>(b"[1]").unwrap(), [1]);
        assert!(matches!(
            decode::<Vec<u8>>(b"{"),
            Err(ClientError::Decode(_))
        ));
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(dir.path().join("none.sock"));
        let err = client.get::<()>("/_ping").await.unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }));
        assert!(
            err.to_string()
                .starts_with("Cannot connect to the bridgewall daemon at unix://")
        );
    }
}
