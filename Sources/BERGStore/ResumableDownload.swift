import BERGCore
import CCurl
import Foundation

/// Fetches one URL into a `.part` file: resumes a broken transfer with a Range request from
/// the file's size, retries with exponential backoff, and gives up cleanly on answers that
/// another try cannot change (404, 403, ...).
struct ResumableDownload {
    let options: StoreOptions

    /// What the server said about the finished file.
    struct Result {
        var headers: [String: String]
        var etag: String? { headers["etag"] }
    }

    /// Downloads `url` into `part`, keeping bytes already there. `name` labels progress and errors.
    /// A failure leaves `part` only when it holds bytes to resume from.
    func run(url: String, into part: URL, name: String) throws -> Result {
        let fd = open(part.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw BERGError.writeFailed(path: part.path, message: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        do {
            return try transfer(url: url, fd: fd, part: part, name: name)
        } catch {
            if lseek(fd, 0, SEEK_END) <= 0 { unlink(part.path) }
            throw error
        }
    }

    private func transfer(url: String, fd: Int32, part: URL, name: String) throws -> Result {
        let folder = part.deletingLastPathComponent().path
        var etag: String?
        var lastProblem = ""
        for attempt in 1...options.maxAttempts {
            let offset = Int64(lseek(fd, 0, SEEK_END))
            let result = HTTPTransfer.run(url: url, fd: fd, offset: max(offset, 0), ifRange: etag, name: name,
                                          folder: folder, options: options)
            if let tag = result.headers["etag"] { etag = tag }
            if let failure = result.failure, !result.retryable { throw failure }

            if result.curlCode == CURLE_OK {
                switch result.status {
                case 200, 206:
                    fsync(fd)
                    return Result(headers: result.headers)
                case 416:
                    // The bytes we hold do not fit the file on the server: start again.
                    ftruncate(fd, 0)
                    lastProblem = "HTTP 416 (the partial file did not match the server's)"
                case 408, 429, 500...599:
                    lastProblem = "HTTP \(result.status)"
                default:
                    throw BERGError.downloadFailed(url: url, message: ResumableDownload.explain(status: result.status))
                }
            } else if result.curlCode == CURLE_UNSUPPORTED_PROTOCOL || result.curlCode == CURLE_URL_MALFORMAT {
                throw BERGError.downloadFailed(url: url, message: result.curlMessage)
            } else {
                lastProblem = result.failure?.message ?? result.curlMessage
            }

            guard attempt < options.maxAttempts else { break }
            let delay = options.retryBaseDelay * pow(2, Double(attempt - 1))
            options.notice?("\(name): \(lastProblem); trying again in \(String(format: "%.1f", delay)) s (attempt \(attempt + 1) of \(options.maxAttempts))")
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        }
        let kept = lseek(fd, 0, SEEK_END)
        let resume = kept > 0 ? " The \(kept) bytes so far are kept in \(part.path); run the command again to resume." : ""
        throw BERGError.downloadFailed(url: url, message: "\(lastProblem), after \(options.maxAttempts) tries.\(resume)")
    }

    static func explain(status: Int) -> String {
        switch status {
        case 404: return "HTTP 404: no file at this address. Check the model id, subject and selection, or BERG_MIRROR if you set it"
        case 401, 403: return "HTTP \(status): access denied. Check BERG_MIRROR and any proxy settings (https_proxy, no_proxy)"
        default: return "HTTP \(status)"
        }
    }
}
