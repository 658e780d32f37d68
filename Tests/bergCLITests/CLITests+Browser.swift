import BERGFormats
import Foundation
import XCTest

/// The catalogue site in a real browser: headless Chromium (Debian's `chromium`) loads the site
/// `berg site` builds for the built-in registry from a loopback server, the filters narrow the
/// table, the served table is whole (what a browser with JavaScript off shows), and screenshots of the index and a model page
/// are taken. Runs with `make test-browser` (BERG_BROWSER_TEST=1), which installs Chromium and
/// keeps the screenshots in docs/screenshots/ (BERG_SCREENSHOTS).
extension CLITests {
    func testSiteInHeadlessChromium() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["BERG_BROWSER_TEST"] == "1" else { throw XCTSkip("the browser test runs with `make test-browser`") }
        let chromium = try XCTUnwrap(["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                     "Chromium is not installed; `make test-browser` installs it (Tools/install-deps.sh --browser)")
        let site = work.appendingPathComponent("site")
        let build = try berg("site", "--output", site.path, environment: freshHome("home"))
        XCTAssertEqual(build.status, 0, build.stderr)
        let server = try StaticFileServer(serving: site)
        defer { server.stop() }

        func browse(_ path: String, _ flags: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromium)
            process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                                 "--no-first-run", "--user-data-dir=\(work.appendingPathComponent("chromium").path)"]
                + flags + ["\(server.base)/\(path)"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "chromium \(flags) \(path)")
            return String(decoding: data, as: UTF8.self)
        }
        /// The table's rows as the browser left them: (all, shown).
        func rows(_ dom: String) -> (all: Int, shown: Int) {
            guard let body = dom.range(of: "<tbody>"), let end = dom.range(of: "</tbody>") else { return (0, 0) }
            let rows = dom[body.upperBound..<end.lowerBound].components(separatedBy: "<tr").dropFirst()
            return (rows.count, rows.filter { !$0.hasPrefix(" hidden") && !$0.contains(" hidden=\"\"") }.count)
        }

        let models = try berg("list", environment: freshHome("home")).stdout.split(separator: "\n").count - 1
        let all = try browse("index.html", ["--dump-dom"])
        XCTAssertEqual(rows(all).all, models)
        XCTAssertEqual(rows(all).shown, models)
        XCTAssertTrue(all.contains("\(models) of \(models) shown"), "the script ran")
        // The filters narrow the table, set from the address as a user's choice would set them.
        let nsd = try browse("index.html?dataset=nsd", ["--dump-dom"])
        XCTAssertEqual(rows(nsd).shown, 1, "one model trained on NSD")
        XCTAssertTrue(nsd.contains("1 of \(models) shown"))
        XCTAssertEqual(rows(try browse("index.html?q=kay2013", ["--dump-dom"])).shown, 1, "search")
        XCTAssertEqual(rows(try browse("index.html?species=human&modality=nothing", ["--dump-dom"])).shown, models,
                       "a value that is not among the choices filters nothing")
        XCTAssertEqual(rows(try browse("index.html?dataset=nsd&q=kay2013", ["--dump-dom"])).shown, 0, "filters combine")
        // With JavaScript off the page is the served HTML: every row shown, the filters hidden.
        // (Headless Chromium does nothing at all with scripts off, so the HTML is read as sent.)
        let plain = try String(contentsOf: site.appendingPathComponent("index.html"), encoding: .utf8)
        XCTAssertEqual(rows(plain).shown, models)
        XCTAssertTrue(plain.contains("<div id=\"filters\" hidden>"), "no filters without JavaScript")

        let shots = environment["BERG_SCREENSHOTS"].map { URL(fileURLWithPath: $0, relativeTo: CLITests.root) } ?? work!
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let index = shots.appendingPathComponent("site-index.png"), page = shots.appendingPathComponent("site-model.png")
        _ = try browse("index.html", ["--screenshot=\(index.path)", "--window-size=1200,520"])
        _ = try browse("fmri-kay2013-css_prf/1.0/index.html", ["--screenshot=\(page.path)", "--window-size=1200,1500"])
        for shot in [index, page] {
            let image = try ImageCodec.decode(shot.path)
            XCTAssertEqual(image.width, 1200, shot.path)
            XCTAssertGreaterThan(Set(image.pixels).count, 10, "\(shot.path) shows something")
        }
    }
}
