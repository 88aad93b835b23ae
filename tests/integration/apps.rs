//! The small Python HTTP apps the mesh tests run behind their proxies.

/// A Python test app: `$body` (a string literal) follows a prelude that defines
/// - `App`, a request handler speaking HTTP/1.1 with keep-alive, whose headers and body leave
///   in one write (no Nagle/delayed-ACK stall per request), with no access log on stderr, and
///   `self.answer(status, body=b"", content_type=None)`;
/// - `serve(handler, port=None)`: serves on 127.0.0.1:`port` (default: the first argument)
///   with a thread per connection, forever;
/// - the modules `http.server` and `sys`.
macro_rules! python_app {
    ($body:literal) => {
        concat!(
            r#"
import http.server, sys
class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    def answer(self, status, body=b"", content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
def serve(handler, port=None):
    address = ("127.0.0.1", port or int(sys.argv[1]))
    http.server.ThreadingHTTPServer(address, handler).serve_forever()
"#,
            $body
        )
    };
}
