import Foundation
import XCTest

/// A small HTTP/1.1 server on 127.0.0.1 that serves a folder and misbehaves on request. It is a
/// Python script (python3 is on every machine that runs these tests) started by the test.
///
/// The first path segment chooses the behaviour; the rest is the file's path in the folder:
/// - `ok/`: serves the file, honours `Range`, sends its MD5 as the `ETag`;
/// - `drop/`: the first request for a path sends half the body, then closes the connection;
/// - `norange/`: like `drop/`, and always ignores `Range` (200 with the whole file);
/// - `flaky/`: answers 503 twice per path before serving it;
/// - `corrupt/`: serves the file with its first byte flipped, under the correct ETag;
/// - `changed/`: serves the file with bytes appended (and a matching ETag);
/// - `slow/`: the first request sends a quarter of the body, then trickles 5 bytes a second;
/// - `delay/`: waits a second before answering;
/// - `huge/`: claims a `Content-Length` of 4 PB, sends 1,000 bytes and closes;
/// - a path that is not in the folder gets 404.
/// HEAD is answered like GET, without the body. Every request is appended to `requests.jsonl`. The server exits by itself after 120 s
/// without requests or 2,000 requests, and `stop()` ends it sooner.
public final class FaultyHTTPServer {
    public let port: Int
    public let logURL: URL
    private let process: Process

    public init(root: URL, workFolder: URL) throws {
        let script = workFolder.appendingPathComponent("faulty_server.py")
        try FaultyHTTPServer.script.write(to: script, atomically: true, encoding: .utf8)
        logURL = workFolder.appendingPathComponent("requests.jsonl")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", script.path, root.path, logURL.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8),
              let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw XCTSkip("the test HTTP server (python3) did not start")
        }
        self.port = port
    }

    public func base(_ behaviour: String) -> URL { URL(string: "http://127.0.0.1:\(port)/\(behaviour)/")! }

    /// One request served: its behaviour, path and `Range` header.
    public struct Request: Decodable { public var method: String; public var behaviour: String; public var path: String; public var range: String? }

    public func requests(for path: String? = nil) -> [Request] {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
            .filter { path == nil || $0.path == path }
    }

    public func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }

    static let script = #"""
import hashlib, http.server, json, os, socket, sys, threading, time

root, log_path = sys.argv[1], sys.argv[2]
counts, lock, activity = {}, threading.Lock(), [time.time(), 0]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        activity[0] = time.time()
        behaviour, _, rel = self.path.lstrip("/").partition("/")
        with lock:
            activity[1] += 1
            n = counts.get((behaviour, rel), 0)
            counts[(behaviour, rel)] = n + 1
            with open(log_path, "a") as log:
                log.write(json.dumps({"method": self.command, "behaviour": behaviour, "path": rel,
                                     "range": self.headers.get("Range")}) + "\n")
        full = os.path.join(root, rel)
        if ".." in rel.split("/") or not os.path.isfile(full):
            return self.plain(404, b"not found")
        if behaviour == "flaky" and n < 2:
            return self.plain(503, b"busy")
        if behaviour == "delay":
            time.sleep(1.0)
        if behaviour == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(2 ** 52))
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.close_connection = True
            return
        data = open(full, "rb").read()
        if behaviour == "changed":
            data += b" changed"
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        if behaviour == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        status, start = 200, 0
        wanted = self.headers.get("Range", "")
        if behaviour != "norange" and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        if behaviour != "norange":
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            if behaviour in ("drop", "norange") and n == 0:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if behaviour == "slow" and n == 0:
                quarter = len(body) // 4
                self.wfile.write(body[:quarter])
                self.wfile.flush()
                for i in range(quarter, min(quarter + 100, len(body))):
                    time.sleep(0.2)
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_GET

    def plain(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

def watchdog():
    while True:
        time.sleep(1)
        if time.time() - activity[0] > 120 or activity[1] > 2000:
            os._exit(0)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
threading.Thread(target=watchdog, daemon=True).start()
print(server.server_address[1], flush=True)
server.serve_forever()
"""#
}
