import BERGCore
import CCurl
import Foundation

/// What one HTTP attempt ended with.
struct HTTPAttempt {
    /// libcurl's result code (`CURLE_OK` is 0).
    var curlCode: CURLcode
    /// libcurl's explanation when the code is not `CURLE_OK`.
    var curlMessage: String
    /// The final response's status (after redirects); 0 when none arrived.
    var status: Int
    /// The final response's headers, names lower-cased.
    var headers: [String: String]
    /// A problem found while writing (disk full, range mismatch); `retryable` says whether to try again.
    var failure: BERGError?
    var retryable: Bool
}

/// One libcurl transfer into an open file, appending from `offset` with an HTTP Range request
/// when the file already holds the start of the body. A server that ignores the Range (200
/// instead of 206) makes the file start again from byte 0.
final class HTTPTransfer {
    private static let curlReady: Bool = berg_curl_global_init() == CURLE_OK

    /// State the C callbacks reach through their context pointer.
    private final class State {
        let fd: Int32
        var offset: Int64
        let name: String
        let diskCheckThreshold: Int64
        let folder: String
        let progress: (@Sendable (DownloadProgress) -> Void)?
        var status = 0
        var headers: [String: String] = [:]
        var bodyStarted = false
        var discardBody = false
        var written: Int64 = 0
        var total: Int64?
        var failure: BERGError?
        var retryable = false
        let started = Date()
        var lastReport = Date.distantPast

        init(fd: Int32, offset: Int64, name: String, folder: String, options: StoreOptions) {
            self.fd = fd
            self.offset = offset
            self.name = name
            self.folder = folder
            self.diskCheckThreshold = options.diskCheckThreshold
            self.progress = options.progress
        }

        func header(_ line: String) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("HTTP/") {
                // A new response (after a redirect or a 100 Continue): forget the last one.
                headers = [:]
                let parts = trimmed.split(separator: " ")
                status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            } else if let colon = trimmed.firstIndex(of: ":") {
                let name = trimmed[..<colon].lowercased()
                headers[name] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }

        /// Decides, at the first body byte, where the body goes. Returns false to abort.
        func startBody() -> Bool {
            bodyStarted = true
            guard status == 200 || status == 206 else { discardBody = true; return true }
            if status == 206 {
                let start = headers["content-range"].flatMap(HTTPTransfer.rangeStart)
                guard start == offset else {
                    failure = .downloadFailed(url: name, message: "the server resumed at byte \(start.map(String.init) ?? "?") instead of \(offset)")
                    retryable = true
                    offset = 0
                    ftruncate(fd, 0)
                    return false
                }
            } else if offset > 0 {
                // The server ignored the Range request and sends the whole file again.
                offset = 0
                ftruncate(fd, 0)
            }
            let length = headers["content-length"].flatMap { Int64($0) }
            total = length.map { $0 + offset }
            if let length, length > diskCheckThreshold, let free = HTTPTransfer.freeSpace(folder), free < length {
                failure = .writeFailed(path: folder, message: "not enough free disk space for \(name): it needs \(DownloadProgress.format(bytes: length)) and \(DownloadProgress.format(bytes: free)) is free. Free some space or set BERG_HOME to a larger disk")
                return false
            }
            guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else {
                failure = .writeFailed(path: name, message: String(cString: strerror(errno)))
                return false
            }
            return true
        }

        func body(_ buffer: UnsafeRawBufferPointer) -> Bool {
            if !bodyStarted, !startBody() { return false }
            if discardBody { return true }
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .writeFailed(path: name, message: String(cString: strerror(errno)))
                    return false
                }
                done += n
            }
            written += Int64(buffer.count)
            report(finished: false)
            return true
        }

        func report(finished: Bool) {
            guard let progress else { return }
            let now = Date()
            guard finished || now.timeIntervalSince(lastReport) >= 0.25 else { return }
            lastReport = now
            let elapsed = max(now.timeIntervalSince(started), 0.001)
            progress(DownloadProgress(name: name, bytes: offset + written, total: total,
                                      bytesPerSecond: Double(written) / elapsed, finished: finished))
        }
    }

    /// Runs one GET of `url` into `fd`, asking for the bytes from `offset` on when it is above 0.
    /// `ifRange` (an ETag seen before) makes a server whose file changed send all of it instead.
    static func run(url: String, fd: Int32, offset: Int64, ifRange: String?, name: String, folder: String,
                    options: StoreOptions) -> HTTPAttempt {
        guard curlReady, let curl = curl_easy_init() else {
            return HTTPAttempt(curlCode: CURLE_FAILED_INIT, curlMessage: "libcurl could not start", status: 0,
                               headers: [:], failure: .missingDependency("libcurl could not be initialised"), retryable: false)
        }
        defer { curl_easy_cleanup(curl) }
        let state = State(fd: fd, offset: offset, name: name, folder: folder, options: options)
        let context = Unmanaged.passUnretained(state).toOpaque()
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        if offset > 0, let ifRange { headerList = curl_slist_append(headerList, "If-Range: \(ifRange)") }
        defer { curl_slist_free_all(headerList) }

        let writeBody: curl_write_callback = { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            return state.body(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : 0
        }
        let writeHeader: curl_write_callback = { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
            state.header(String(decoding: bytes, as: UTF8.self))
            return length
        }

        _ = berg_curl_setopt_string(curl, CURLOPT_URL, url)
        _ = berg_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 1)
        _ = berg_curl_setopt_long(curl, CURLOPT_MAXREDIRS, 10)
        _ = berg_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = berg_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        _ = berg_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit)
        _ = berg_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, options.lowSpeedTime)
        _ = berg_curl_setopt_string(curl, CURLOPT_USERAGENT, "berg-swift")
        _ = berg_curl_setopt_string(curl, CURLOPT_NOPROXY, noProxy)
        _ = berg_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = berg_curl_setopt_write_function(curl, CURLOPT_WRITEFUNCTION, writeBody)
        _ = berg_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, context)
        _ = berg_curl_setopt_write_function(curl, CURLOPT_HEADERFUNCTION, writeHeader)
        _ = berg_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, context)
        if offset > 0 { _ = berg_curl_setopt_string(curl, CURLOPT_RANGE, "\(offset)-") }
        if let headerList { _ = berg_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headerList) }

        let code = withExtendedLifetime(state) { curl_easy_perform(curl) }
        if code == CURLE_OK, !state.bodyStarted, state.status == 200 {
            // An empty 200 body: the file is empty, whatever was there before.
            ftruncate(fd, 0)
        }
        if code == CURLE_OK { state.report(finished: true) }
        var message = String(cString: errorBuffer)
        if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
        return HTTPAttempt(curlCode: code, curlMessage: message, status: state.status, headers: state.headers,
                           failure: state.failure, retryable: state.retryable)
    }

    /// The size a server gives for `url` in answer to a HEAD request, or nil.
    static func contentLength(of url: String, options: StoreOptions) -> Int64? {
        guard curlReady, let curl = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(curl) }
        let state = State(fd: -1, offset: 0, name: url, folder: "/", options: StoreOptions())
        let context = Unmanaged.passUnretained(state).toOpaque()
        let writeHeader: curl_write_callback = { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            state.header(String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self))
            return size * count
        }
        _ = berg_curl_setopt_string(curl, CURLOPT_URL, url)
        _ = berg_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        _ = berg_curl_setopt_string(curl, CURLOPT_NOPROXY, noProxy)
        _ = berg_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 1)
        _ = berg_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = berg_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        _ = berg_curl_setopt_long(curl, CURLOPT_TIMEOUT, max(options.connectTimeout, 10))
        _ = berg_curl_setopt_write_function(curl, CURLOPT_HEADERFUNCTION, writeHeader)
        _ = berg_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, context)
        let code = withExtendedLifetime(state) { curl_easy_perform(curl) }
        guard code == CURLE_OK, state.status == 200 else { return nil }
        return state.headers["content-length"].flatMap { Int64($0) }
    }

    /// Proxies come from the environment (libcurl reads `https_proxy`, `http_proxy`, `no_proxy`);
    /// loopback addresses are never sent through one.
    static var noProxy: String {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["no_proxy"] ?? environment["NO_PROXY"] ?? ""
        return (user.isEmpty ? "" : user + ",") + "localhost,127.0.0.1,::1"
    }

    /// The first byte of `bytes START-END/TOTAL`.
    static func rangeStart(_ contentRange: String) -> Int64? {
        let text = contentRange.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes") else { return nil }
        let range = text.dropFirst(5).trimmingCharacters(in: .whitespaces)
        guard let dash = range.firstIndex(of: "-") else { return nil }
        return Int64(range[..<dash])
    }

    static func freeSpace(_ folder: String) -> Int64? {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
