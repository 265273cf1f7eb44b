//! The running `http` source: requests, retries, login and paging.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError,
    RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse,
    TokenUrl,
};
use serde_json::Value;
use serde_json_path::JsonPath;
use url::Url;

use super::link::{self, Redactor};
use super::{ClientAuth, Grant, HttpAuth, HttpSpec, Method, OAuth2, Paginate};
use crate::source::{Page, Source, SourceError, Start};

/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; a server asking for more gets this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// How long before its announced expiry a token is renewed.
const TOKEN_SKEW: Duration = Duration::from_secs(30);
/// How much of a refused answer's body an error quotes.
const QUOTED_BODY: usize = 200;

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An open `http` source: reads one page per [`Source::next_page`].
pub struct HttpSource {
    spec: HttpSpec,
    agent: ureq::Agent,
    records: JsonPath,
    next_path: Option<JsonPath>,
    /// The next request, `None` once the last page was read.
    next: Option<Url>,
    /// The URL the source was opened on: next links must stay on its origin.
    origin: Url,
    /// Hashes of the URLs fetched, to notice a pagination that loops.
    fetched: HashSet<u64>,
    pages: u32,
    /// The page number or offset of the next request.
    position: u64,
    /// The cursor token the next request carries (`cursor` paging).
    token: Option<String>,
    oauth: Option<OAuthState>,
    /// The token of a `login`, once logged in.
    login_token: Option<String>,
    redactor: Redactor,
    last_request: Option<Instant>,
    /// Tries of the last request.
    tries: u32,
}

struct OAuthState {
    spec: OAuth2,
    client: TokenClient,
    agent: ureq::Agent,
    token: Option<(String, Option<Instant>)>,
}

/// What a successful request brought.
struct Answer {
    status: u16,
    body: Value,
    link_next: Option<String>,
}

/// One request beyond a source's pages (a target's writes): its method, body and headers.
pub(crate) struct Call<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The JSON body, if any.
    pub body: Option<&'a Value>,
    /// Headers besides the spec's.
    pub headers: &'a [(&'a str, &'a str)],
    /// Whether the answer's body may be anything (a target's write): a body that is not JSON is
    /// answered as a JSON string of its text (empty: `null`) instead of failing the request.
    pub any_answer: bool,
    /// Signs the body of each try ([`crate::target::http::Sign`]).
    pub sign: Option<&'a crate::target::http::Sign>,
}

/// Why one try of a request failed, and whether another may help.
enum Failure {
    /// Worth another try, after `wait` if the server said so.
    Retry {
        status: Option<u16>,
        message: String,
        wait: Option<Duration>,
    },
    /// The OAuth2 token was refused.
    Unauthorized { message: String },
    /// Final.
    Fatal(SourceError),
}

impl HttpSource {
    pub(super) fn new(spec: HttpSpec, start: &Start) -> Result<HttpSource, SourceError> {
        let invalid =
            |what: &str| SourceError::Other(format!("the http source has an invalid {what}"));
        let records = JsonPath::parse(&spec.records).map_err(|_| invalid("records path"))?;
        let next_path = match &spec.paginate {
            Paginate::NextLink { path } | Paginate::Cursor { path, .. } => {
                Some(JsonPath::parse(path).map_err(|_| invalid("paginate path"))?)
            }
            _ => None,
        };
        let (secrets, key_param) = secrets(&spec);
        let redactor = Redactor::new(secrets, key_param);
        let mut first = Url::parse(&spec.url).map_err(|_| invalid("url"))?;
        for (name, value) in &spec.query {
            link::set_param(&mut first, name, &scalar(value));
        }
        if let (Some(incremental), Some(cursor)) = (&spec.incremental, &start.cursor) {
            let value = match cursor {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => scalar(cursor),
                _ => {
                    return Err(SourceError::Other(
                        "the stored cursor is not a string, number or boolean".to_owned(),
                    ));
                }
            };
            let value = match &incremental.datetime {
                Some(datetime) => datetime.write(&value).map_err(SourceError::Other)?,
                None => value,
            };
            let sent = match &incremental.format {
                Some(format) => format.replace("{cursor}", &value),
                None => value.clone(),
            };
            link::set_param(&mut first, &incremental.cursor_param, &sent);
            if let Paginate::Cursor { param, .. } = &spec.paginate
                && *param == incremental.cursor_param
            {
                let token = value.clone();
                return Self::build(spec, records, next_path, first, redactor, Some(token));
            }
        }
        Self::build(spec, records, next_path, first, redactor, None)
    }

    fn build(
        spec: HttpSpec,
        records: JsonPath,
        next_path: Option<JsonPath>,
        first: Url,
        redactor: Redactor,
        token: Option<String>,
    ) -> Result<HttpSource, SourceError> {
        let timeout = Duration::from_secs(spec.timeout);
        // Redirects are not followed: one could carry an API key header to another host.
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .build();
        let oauth = match &spec.auth {
            HttpAuth::Oauth2(oauth) => Some(OAuthState::new(oauth.clone(), timeout)?),
            _ => None,
        };
        let position = match &spec.paginate {
            Paginate::Page { start, .. } => *start,
            _ => 0,
        };
        let mut source = HttpSource {
            origin: first.clone(),
            next: None,
            agent,
            records,
            next_path,
            fetched: HashSet::new(),
            pages: 0,
            position,
            token,
            oauth,
            login_token: None,
            redactor,
            last_request: None,
            tries: 0,
            spec,
        };
        source.next = Some(source.paged(first));
        Ok(source)
    }

    /// `base` with the paging parameters of the next request.
    fn paged(&self, mut base: Url) -> Url {
        match &self.spec.paginate {
            Paginate::Page {
                param,
                size_param,
                size,
                ..
            } => {
                link::set_param(&mut base, param, &self.position.to_string());
                if let (Some(size_param), Some(size)) = (size_param, size) {
                    link::set_param(&mut base, size_param, &size.to_string());
                }
            }
            Paginate::Offset {
                param,
                limit_param,
                limit,
            } => {
                link::set_param(&mut base, param, &self.position.to_string());
                link::set_param(&mut base, limit_param, &limit.to_string());
            }
            Paginate::Cursor { param, .. } => {
                if let Some(token) = &self.token {
                    link::set_param(&mut base, param, token);
                }
            }
            Paginate::None | Paginate::NextLink { .. } | Paginate::LinkHeader {} => {}
        }
        base
    }

    /// Requests `url`, trying again as the spec allows.
    fn fetch(&mut self, url: &Url) -> Result<Answer, SourceError> {
        let body = self.spec.body.clone();
        let call = Call {
            method: self.spec.method.as_str(),
            body: match self.spec.method {
                Method::Post => body.as_ref(),
                Method::Get => None,
            },
            headers: &[],
            any_answer: false,
            sign: None,
        };
        self.request(url, &call, false)
    }

    /// Sends `call` to `url` with the source's auth, retries and redaction, and answers its
    /// status and JSON body (`null` when the body is not JSON). With `client_errors`, a `4xx`
    /// other than `429` (and a `401` a new login does not cure) is an answer, not an error:
    /// how a target reads what the other side refused.
    pub(crate) fn send(
        &mut self,
        url: &Url,
        call: &Call<'_>,
        client_errors: bool,
    ) -> Result<(u16, Value), SourceError> {
        self.request(url, call, client_errors)
            .map(|answer| (answer.status, answer.body))
    }

    /// How many times the last request was sent.
    pub(crate) fn tries(&self) -> u32 {
        self.tries
    }

    /// `text` without the secrets of the spec and the tokens learnt.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.redactor.text(text)
    }

    /// Adds a secret to hide that the spec does not hold (a secret variable of the run).
    pub(crate) fn add_secret(&mut self, secret: &str) {
        self.redactor.add(secret);
    }

    /// `url` as errors may show it.
    pub(crate) fn shown(&self, url: &Url) -> String {
        self.redactor.url(url)
    }

    fn request(
        &mut self,
        url: &Url,
        call: &Call<'_>,
        client_errors: bool,
    ) -> Result<Answer, SourceError> {
        let shown = self.redactor.url(url);
        let attempts = self.spec.retry.attempts.max(1);
        let mut attempt = 1;
        let mut relogged = false;
        loop {
            log::debug!("http: {} {shown} (try {attempt})", call.method);
            self.tries = attempt;
            let failure = match self.try_once(url, call, client_errors, !relogged) {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            match failure {
                Failure::Fatal(error) => return Err(error),
                Failure::Unauthorized { message } => {
                    if relogged {
                        return Err(self.request_error(&shown, Some(401), &message));
                    }
                    relogged = true;
                    if let Some(oauth) = &mut self.oauth {
                        oauth.token = None;
                    }
                    self.login_token = None;
                    log::info!("http source: {shown} refused the access token; logging in again");
                }
                Failure::Retry {
                    status,
                    message,
                    wait,
                } => {
                    if attempt >= attempts {
                        let message = if attempts > 1 {
                            format!("{message} (tried {attempts} times)")
                        } else {
                            message
                        };
                        return Err(self.request_error(&shown, status, &message));
                    }
                    let backoff = Duration::from_millis(self.spec.retry.backoff)
                        .saturating_mul(1 << (attempt - 1).min(20))
                        .min(MAX_BACKOFF);
                    let wait = wait.map_or(backoff, |wait| wait.min(MAX_RETRY_AFTER));
                    log::warn!(
                        "http source: {shown}: {}; trying again in {} ms",
                        self.redactor.text(&message),
                        wait.as_millis()
                    );
                    std::thread::sleep(wait);
                    attempt += 1;
                }
            }
        }
    }

    fn request_error(&self, shown: &str, status: Option<u16>, message: &str) -> SourceError {
        SourceError::Request {
            url: shown.to_owned(),
            status,
            message: self.redactor.text(message),
        }
    }

    fn malformed(&self, url: &Url, message: &str) -> SourceError {
        SourceError::Malformed {
            url: self.redactor.url(url),
            message: self.redactor.text(message),
        }
    }

    /// One try of a request.
    fn try_once(
        &mut self,
        url: &Url,
        call: &Call<'_>,
        client_errors: bool,
        may_relog: bool,
    ) -> Result<Answer, Failure> {
        self.pace();
        let mut target = url.clone();
        let mut authorization = None;
        match &self.spec.auth {
            HttpAuth::None => {}
            HttpAuth::Basic { username, password } => {
                authorization = Some(format!("Basic {}", basic_pair(username, password.expose())));
            }
            HttpAuth::Bearer { token } => {
                authorization = Some(format!("Bearer {}", token.expose()))
            }
            HttpAuth::ApiKey { query, value, .. } => {
                if let Some(name) = query {
                    link::set_param(&mut target, name, value.expose());
                }
            }
            HttpAuth::Oauth2(_) => {
                let token = self.access_token().map_err(Failure::Fatal)?;
                authorization = Some(format!("Bearer {token}"));
            }
            HttpAuth::Login(_) => {
                // Sent below, in the header the login names.
                self.login().map_err(Failure::Fatal)?;
            }
        }
        // First, so a header of the spec can ask for a more specific type.
        let mut request = self
            .agent
            .request_url(call.method, &target)
            .set("Accept", "application/json");
        for (name, value) in &self.spec.headers {
            request = request.set(name, value);
        }
        for (name, value) in call.headers {
            request = request.set(name, value);
        }
        if let HttpAuth::ApiKey {
            header: Some(name),
            value,
            ..
        } = &self.spec.auth
        {
            request = request.set(name, value.expose());
        }
        if let Some(authorization) = &authorization {
            request = request.set("Authorization", authorization);
        }
        if let (HttpAuth::Login(login), Some(token)) = (&self.spec.auth, &self.login_token) {
            request = request.set(&login.header, &format!("{}{token}", login.prefix));
        }
        let result = match (call.body, call.sign) {
            (Some(body), Some(sign)) => {
                // The signature covers the exact bytes sent, so they are written here.
                let bytes = serde_json::to_vec(body).unwrap_or_default();
                let timestamp = chrono::Utc::now().timestamp().to_string();
                request = request
                    .set("Content-Type", "application/json")
                    .set(&sign.header, &sign.signature(&timestamp, &bytes))
                    .set(&sign.timestamp_header, &timestamp);
                request.send_bytes(&bytes)
            }
            (Some(body), None) => request.send_json(body),
            (None, _) => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(status, response)) => {
                let wait = retry_wait(&response);
                let text = response.into_string().unwrap_or_default();
                let relogs = self.oauth.is_some() || matches!(self.spec.auth, HttpAuth::Login(_));
                let relog = status == 401 && relogs && may_relog;
                if client_errors && (400..500).contains(&status) && status != 429 && !relog {
                    let body = match serde_json::from_str(&text) {
                        Ok(body) => body,
                        Err(_) if call.any_answer && !text.trim().is_empty() => Value::String(text),
                        Err(_) => Value::Null,
                    };
                    return Ok(Answer {
                        status,
                        body,
                        link_next: None,
                    });
                }
                // Hidden before it is shortened: a secret cut in two would not be found after.
                let quoted = quote_body(self.redactor.text(&text));
                let message = format!("the server answered {status}{quoted}");
                return Err(if status == 401 && relogs {
                    Failure::Unauthorized { message }
                } else if status == 429 || (500..600).contains(&status) {
                    Failure::Retry {
                        status: Some(status),
                        message,
                        wait,
                    }
                } else {
                    Failure::Fatal(self.request_error(
                        &self.redactor.url(url),
                        Some(status),
                        &message,
                    ))
                });
            }
            Err(ureq::Error::Transport(transport)) => {
                return Err(Failure::Retry {
                    status: None,
                    message: transport_message(&transport),
                    wait: None,
                });
            }
        };
        let status = response.status();
        if !(200..300).contains(&status) {
            // Redirects are not followed (see `build`); say where it pointed.
            let to = response
                .header("location")
                .and_then(|location| url.join(location).ok())
                .map(|to| format!(" to {}", self.redactor.url(&to)))
                .unwrap_or_default();
            let message = format!("the server answered {status}{to}; give the final URL");
            return Err(Failure::Fatal(self.request_error(
                &self.redactor.url(url),
                Some(status),
                &message,
            )));
        }
        let link_next = link::next_link(response.all("link"));
        let mut bytes = Vec::new();
        if let Err(error) = response.into_reader().read_to_end(&mut bytes) {
            // An answer cut off mid-body is a network failure like any other.
            return Err(Failure::Retry {
                status: None,
                message: format!("the answer broke off: {error}"),
                wait: None,
            });
        }
        let body = match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(_) if call.any_answer => {
                let text = String::from_utf8_lossy(&bytes);
                if text.trim().is_empty() {
                    Value::Null
                } else {
                    Value::String(text.into_owned())
                }
            }
            Err(error) => {
                return Err(Failure::Fatal(
                    self.malformed(url, &format!("not JSON: {error}")),
                ));
            }
        };
        Ok(Answer {
            status,
            body,
            link_next,
        })
    }

    /// Waits until the rate limit allows the next request.
    fn pace(&mut self) {
        if let (Some(rate), Some(last)) = (self.spec.rate_limit, self.last_request) {
            let gap = Duration::from_secs_f64(1.0 / rate);
            let elapsed = last.elapsed();
            if elapsed < gap {
                std::thread::sleep(gap - elapsed);
            }
        }
        self.last_request = Some(Instant::now());
    }

    /// The cached OAuth2 access token, fetched when there is none or it is about to expire.
    fn access_token(&mut self) -> Result<String, SourceError> {
        let Some(oauth) = &mut self.oauth else {
            return Err(SourceError::Other("no OAuth2 login configured".to_owned()));
        };
        if let Some((token, expires)) = &oauth.token
            && expires.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.clone());
        }
        let (token, expires) = oauth.fetch(&self.redactor)?;
        self.redactor.add(&token);
        oauth.token = Some((token.clone(), expires));
        Ok(token)
    }

    /// Logs in with the spec's `login` when no token is held yet.
    fn login(&mut self) -> Result<(), SourceError> {
        let HttpAuth::Login(login) = &self.spec.auth else {
            return Ok(());
        };
        if self.login_token.is_some() {
            return Ok(());
        }
        let login = login.clone();
        let refused = |message: String| SourceError::Auth(message);
        let url = Url::parse(&login.url).map_err(|_| refused("the login URL is invalid".into()))?;
        let shown = self.redactor.url(&url);
        self.pace();
        let answer = self
            .agent
            .request_url("POST", &url)
            .set("Accept", "application/json")
            .send_json(&login.body);
        let body: Value = match answer {
            Ok(response) => response
                .into_json()
                .map_err(|_| refused(format!("the login at {shown} answered no JSON")))?,
            Err(ureq::Error::Status(status, _)) => {
                return Err(refused(format!("the login at {shown} answered {status}")));
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(refused(format!(
                    "the login at {shown} failed: {}",
                    self.redactor.text(&t.kind().to_string())
                )));
            }
        };
        let path = JsonPath::parse(&login.token)
            .map_err(|_| refused("the login token path is invalid".into()))?;
        let token = path
            .query(&body)
            .first()
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                refused(format!(
                    "the login at {shown} gave no token at `{}`",
                    login.token
                ))
            })?
            .to_owned();
        self.redactor.add(&token);
        self.login_token = Some(token);
        Ok(())
    }

    /// Reads the records of one answer.
    fn records_of(&self, url: &Url, body: &Value) -> Result<Vec<Value>, SourceError> {
        let nodes = self.records.query_located(body);
        let mut records = Vec::with_capacity(nodes.len());
        for node in nodes {
            if !node.location().last().is_some_and(|last| last.is_index()) {
                let at = node.location().to_json_pointer();
                return Err(self.malformed(
                    url,
                    &format!(
                        "`records` ({}) selects `{at}`, which is not an element of an array; \
                         select the elements, e.g. with `[*]`",
                        self.spec.records
                    ),
                ));
            }
            records.push(node.node().clone());
        }
        Ok(records)
    }

    /// The single value `path` selects in `body`, `None` when it selects nothing or null.
    fn value_at<'b>(
        &self,
        url: &Url,
        path: &JsonPath,
        body: &'b Value,
    ) -> Result<Option<&'b Value>, SourceError> {
        let nodes = path.query(body);
        match nodes.at_most_one() {
            Ok(Some(Value::Null)) | Ok(None) => Ok(None),
            Ok(Some(value)) => Ok(Some(value)),
            Err(_) => Err(self.malformed(url, "the paging path selects more than one value")),
        }
    }

    /// Works out the request after the page from `url`, which had `count` records.
    fn advance(
        &mut self,
        url: &Url,
        answer: &Answer,
        count: usize,
    ) -> Result<Option<Url>, SourceError> {
        let count = count as u64;
        let linked = match &self.spec.paginate {
            Paginate::None => return Ok(None),
            Paginate::Page { size, .. } => {
                if count == 0 || size.is_some_and(|size| count < size) {
                    return Ok(None);
                }
                self.position += 1;
                return Ok(Some(self.paged(url.clone())));
            }
            Paginate::Offset { limit, .. } => {
                if count == 0 || count < *limit {
                    return Ok(None);
                }
                self.position += count;
                return Ok(Some(self.paged(url.clone())));
            }
            Paginate::Cursor { .. } => {
                let Some(path) = &self.next_path else {
                    return Ok(None);
                };
                let token = match self.value_at(url, path, &answer.body)? {
                    None => None,
                    Some(Value::String(token)) if token.is_empty() => None,
                    Some(Value::String(token)) => Some(token.clone()),
                    Some(Value::Number(number)) => Some(number.to_string()),
                    Some(_) => {
                        return Err(self.malformed(url, "the cursor is not a string or a number"));
                    }
                };
                let Some(token) = token else {
                    return Ok(None);
                };
                self.token = Some(token);
                return Ok(Some(self.paged(url.clone())));
            }
            Paginate::NextLink { .. } => {
                let Some(path) = &self.next_path else {
                    return Ok(None);
                };
                match self.value_at(url, path, &answer.body)? {
                    None => None,
                    Some(Value::String(link)) if link.is_empty() => None,
                    Some(Value::String(link)) => Some(link.clone()),
                    Some(_) => return Err(self.malformed(url, "the next link is not a string")),
                }
            }
            Paginate::LinkHeader {} => answer.link_next.clone(),
        };
        let Some(linked) = linked else {
            return Ok(None);
        };
        let next = url.join(&linked).map_err(|error| {
            self.malformed(url, &format!("the next link is not a URL: {error}"))
        })?;
        if !link::same_origin(&next, &self.origin) {
            return Err(self.malformed(
                url,
                &format!(
                    "the next link {} leaves the API's origin; it is not followed so credentials \
                     stay with the API",
                    self.redactor.url(&next)
                ),
            ));
        }
        Ok(Some(next))
    }
}

impl Source for HttpSource {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if !self.fetched.insert(url_hash(&url)) {
            return Err(self.malformed(
                &url,
                "the next page is one already fetched; the API's pagination loops",
            ));
        }
        let answer = self.fetch(&url)?;
        let records = self.records_of(&url, &answer.body)?;
        self.pages += 1;
        let requested_with = self.token.clone();
        let mut next = self.advance(&url, &answer, records.len())?;
        if next.is_some() && self.spec.max_pages.is_some_and(|max| self.pages >= max) {
            log::warn!(
                "http source: stopped after max_pages ({}) pages; the API has more",
                self.pages
            );
            next = None;
        }
        // The position to resume from: the next page's cursor, or on the last page the one it
        // was fetched with, so a later run re-reads that page rather than starting over.
        let token = match &self.spec.paginate {
            Paginate::Cursor { .. } => self.token.clone().or(requested_with),
            _ => None,
        };
        self.next = next;
        if records.is_empty() && self.next.is_none() && token.is_none() {
            return Ok(None);
        }
        Ok(Some(Page {
            records,
            token,
            ..Page::default()
        }))
    }

    /// An API's pages need no acknowledgement.
    fn read_ahead(&self) -> bool {
        true
    }
}

impl OAuthState {
    fn new(spec: OAuth2, timeout: Duration) -> Result<OAuthState, SourceError> {
        let token_url = TokenUrl::new(spec.token_url.clone())
            .map_err(|_| SourceError::Other("the OAuth2 token URL is not valid".to_owned()))?;
        let client = BasicClient::new(ClientId::new(spec.client_id.clone()))
            .set_client_secret(ClientSecret::new(spec.client_secret.expose().to_owned()))
            .set_token_uri(token_url)
            .set_auth_type(match spec.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Body => AuthType::RequestBody,
            });
        // Token calls must not follow redirects (SSRF, as oauth2's documentation warns).
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            .redirects(0)
            .build();
        Ok(OAuthState {
            spec,
            client,
            agent,
            token: None,
        })
    }

    /// Asks the token endpoint for a new access token; its expiry less a safety margin.
    fn fetch(&self, redactor: &Redactor) -> Result<(String, Option<Instant>), SourceError> {
        let scopes = self
            .spec
            .scopes
            .iter()
            .map(|scope| Scope::new(scope.clone()));
        let result = match self.spec.grant {
            Grant::ClientCredentials => self
                .client
                .exchange_client_credentials()
                .add_scopes(scopes)
                .request(&self.agent),
            Grant::Password => {
                let username =
                    ResourceOwnerUsername::new(self.spec.username.clone().unwrap_or_default());
                let password = ResourceOwnerPassword::new(
                    self.spec
                        .password
                        .as_ref()
                        .map(|p| p.expose().to_owned())
                        .unwrap_or_default(),
                );
                self.client
                    .exchange_password(&username, &password)
                    .add_scopes(scopes)
                    .request(&self.agent)
            }
        };
        let shown = Url::parse(&self.spec.token_url)
            .map(|url| redactor.url(&url))
            .unwrap_or_else(|_| "the token endpoint".to_owned());
        let token = result.map_err(|error| {
            let why = match error {
                RequestTokenError::ServerResponse(response) => format!("refused: {response}"),
                RequestTokenError::Request(HttpClientError::Reqwest(error)) => match *error {
                    ureq::Error::Status(status, response) => {
                        let text = response.into_string().unwrap_or_default();
                        let quoted = quote_body(redactor.text(&text));
                        format!("answered {status}{quoted}")
                    }
                    ureq::Error::Transport(transport) => transport_message(&transport),
                },
                RequestTokenError::Request(error) => format!("failed: {error}"),
                RequestTokenError::Parse(error, _) => {
                    format!("answered something that is not a token: {error}")
                }
                RequestTokenError::Other(message) => message,
            };
            SourceError::Auth(redactor.text(&format!("token request to {shown} {why}")))
        })?;
        let expires = token.expires_in().map(|lifetime| {
            let skew = TOKEN_SKEW.min(lifetime / 2);
            Instant::now() + lifetime - skew
        });
        Ok((token.access_token().secret().clone(), expires))
    }
}

/// The secrets of a spec, also as `Authorization: Basic` carries them, and the query parameter
/// that carries an API key.
fn secrets(spec: &HttpSpec) -> (Vec<String>, Option<String>) {
    let mut secrets: Vec<String> = spec
        .headers
        .iter()
        // A credential is never this short, and hiding `1` would garble every message.
        .filter(|(name, value)| sensitive_header(name) && value.len() >= 6)
        .map(|(_, value)| value.clone())
        .collect();
    let mut key_param = None;
    if let Ok(url) = Url::parse(&spec.url)
        && let Some(password) = url.password()
    {
        let decoded = |text: &str| {
            url::form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        secrets.push(password.to_owned());
        secrets.push(decoded(password));
        secrets.push(basic_pair(&decoded(url.username()), &decoded(password)));
        secrets.push(basic_pair(url.username(), password));
    }
    match &spec.auth {
        HttpAuth::None => {}
        HttpAuth::Basic { username, password } => {
            secrets.push(password.expose().to_owned());
            secrets.push(basic_pair(username, password.expose()));
        }
        HttpAuth::Bearer { token } => secrets.push(token.expose().to_owned()),
        HttpAuth::ApiKey { query, value, .. } => {
            secrets.push(value.expose().to_owned());
            key_param.clone_from(query);
        }
        HttpAuth::Login(login) => {
            fn strings(value: &Value, out: &mut Vec<String>) {
                match value {
                    Value::String(s) if !s.is_empty() => out.push(s.clone()),
                    Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                    Value::Object(map) => map.values().for_each(|v| strings(v, out)),
                    _ => {}
                }
            }
            strings(&login.body, &mut secrets);
        }
        HttpAuth::Oauth2(oauth) => {
            let secret = oauth.client_secret.expose();
            secrets.push(secret.to_owned());
            // oauth2 form-encodes both halves before it joins them (RFC 6749 §2.3.1).
            let encode = |text: &str| {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            };
            secrets.push(basic_pair(&encode(&oauth.client_id), &encode(secret)));
            if let Some(password) = &oauth.password {
                secrets.push(password.expose().to_owned());
            }
        }
    }
    (secrets, key_param)
}

/// Whether a header's value is a credential by its name (`Authorization`, `X-Api-Key`,
/// `X-Auth-Token`, `Cookie`, …): such values are kept out of errors as the auth's secrets are.
fn sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "cookie"
        || [
            "auth",
            "key",
            "token",
            "secret",
            "password",
            "signature",
            "session",
        ]
        .iter()
        .any(|part| name.contains(part))
}

/// The base64 of `user:password`, as HTTP Basic sends it.
fn basic_pair(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A query value as text: strings as they are, numbers and booleans as JSON writes them.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A refused answer's body, shortened, for an error message.
fn quote_body(body: String) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let mut end = body.len().min(QUOTED_BODY);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let ellipsis = if end < body.len() { "…" } else { "" };
    format!(": {}{ellipsis}", &body[..end])
}

/// A network failure in words, without the URL (ureq's own message names it, API key and all).
fn transport_message(transport: &ureq::Transport) -> String {
    let mut message = transport.kind().to_string();
    if let Some(detail) = transport.message() {
        message.push_str(": ");
        message.push_str(detail);
    }
    if let Some(source) = std::error::Error::source(transport) {
        message.push_str(": ");
        message.push_str(&source.to_string());
    }
    message
}

fn retry_wait(response: &ureq::Response) -> Option<Duration> {
    response.header("retry-after").and_then(link::retry_after)
}

fn url_hash(url: &Url) -> u64 {
    let mut hasher = DefaultHasher::new();
    url.as_str().hash(&mut hasher);
    hasher.finish()
}
