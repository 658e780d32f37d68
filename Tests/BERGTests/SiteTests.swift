import BERG
import BERGRegistry
import Foundation
import XCTest

/// The catalogue site: pages for the built-in registry with their pictures and relative links,
/// and nothing in a manifest becoming markup.
final class SiteTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("berg-site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// Every `href` and `src` of a page, and whether each is relative and names a file that exists.
    func links(in page: URL) throws -> [String] {
        let html = try String(contentsOf: page, encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "(?:href|src)=\"([^\"]*)\"")
        return pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)).map {
            String(html[Range($0.range(at: 1), in: html)!])
        }
    }

    func testBuiltInRegistrySiteHasAPagePerModelWithPicturesAndRelativeLinks() throws {
        let berg = try BERG(home: work.appendingPathComponent("home"), storeOptions: StoreOptions())
        let site = work.appendingPathComponent("site")
        let pages = try berg.writeSite(to: site.path)
        XCTAssertEqual(pages.count, 1 + (try berg.listModels().count))
        let index = try String(contentsOf: site.appendingPathComponent("index.html"), encoding: .utf8)
        for id in try berg.listModels() { XCTAssertTrue(index.contains("href=\"\(id)/"), id) }
        XCTAssertTrue(index.contains("channels: any text; timepoints: any text"), "a text selection key says what it takes")
        for page in pages.map(URL.init(fileURLWithPath:)) {
            for link in try links(in: page) {
                XCTAssertFalse(link.hasPrefix("/") || link.contains("://"), "\(page.path): \(link) is not relative")
                let target = page.deletingLastPathComponent().appendingPathComponent(link).standardizedFileURL
                XCTAssertTrue(FileManager.default.fileExists(atPath: target.path), "\(page.path): \(link) leads nowhere")
            }
        }
        let prf = site.appendingPathComponent("fmri-kay2013-css_prf/1.0")
        let page = try String(contentsOf: prf.appendingPathComponent("index.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("<img src=\"retinotopy.png\""), page)
        XCTAssertTrue(page.contains("<img src=\"voxel_counts.png\""), page)
        XCTAssertTrue(page.contains("Reproducibility check"), "the built-in check's summary")
        XCTAssertTrue(page.contains("berg verify fmri-kay2013-css_prf"))
        XCTAssertTrue(page.contains("berg encode fmri-kay2013-css_prf --subject 1 --roi V1 --input images/ --output responses.npy"))
        XCTAssertTrue(page.contains("<td><code>roi</code></td><td>V1, V2, V3, hV4</td>"), "the selection's values")
        // The card's content, as `berg card` has it.
        for line in try berg.card("fmri-kay2013-css_prf").split(separator: "\n") where line.hasPrefix("## ") {
            XCTAssertTrue(page.contains("<h2>\(line.dropFirst(3))</h2>"), "\(line)")
        }
        let fwrf = try String(contentsOf: site.appendingPathComponent("fmri-nsd-fwrf/1.0/index.html"), encoding: .utf8)
        XCTAssertTrue(fwrf.contains("berg get-model fmri-nsd-fwrf --subject 1 --roi V1"))
        XCTAssertTrue(fwrf.contains("weights_sub-{subject:02}_roi-{roi}.pt"), "the files it needs")
    }

    func testNothingInAManifestBecomesMarkup() throws {
        let folder = work.appendingPathComponent("registry")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let builtIn = try XCTUnwrap(BuiltinManifests.files.first { $0.name == "fmri-kay2013-css_prf.yaml" }).text
        let hostile = #"<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) <a href="javascript:alert(4)">x</a> "><svg onload=alert(5)> <p onclick=alert(6)>p</p> ![i](https://x.org/a.png"onerror="alert(7))"#
        var text = builtIn.replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: lab-hostile")
        let description = text.range(of: "description: >-\n")!
        text.insert(contentsOf: "  \(hostile)\n", at: description.upperBound)
        text = text.replacingOccurrences(of: "model_type: parametric pRF (compressive spatial summation)",
                                         with: "model_type: \"<script>alert(8)</script>\"")
            .replacingOccurrences(of: "creator: BERG for Swift", with: "creator: \"<b onmouseover=alert(9)>me</b> BERG for Swift")
            .replacingOccurrences(of: "(after Kay, Winawer, Mezer & Wandell 2013)", with: "(after Kay, Winawer, Mezer & Wandell 2013)\"")
        try text.write(to: folder.appendingPathComponent("lab-hostile.yaml"), atomically: true, encoding: .utf8)

        let berg = try BERG(home: work.appendingPathComponent("home"), registries: [folder], storeOptions: StoreOptions())
        let site = work.appendingPathComponent("site")
        try berg.writeSite(to: site.path)
        let index = try String(contentsOf: site.appendingPathComponent("index.html"), encoding: .utf8)
        let page = try String(contentsOf: site.appendingPathComponent("lab-hostile/1.0/index.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text is shown as text")
        XCTAssertEqual(page.components(separatedBy: "<script").count - 1, 0, "no script element on a model page")
        XCTAssertEqual(index.components(separatedBy: "<script").count - 1, 1, "only the filter's own script on the index")
        for html in [page, index] {
            let tags = try NSRegularExpression(pattern: "<[a-zA-Z][^>]*>")
            for match in tags.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
                let tag = String(html[Range(match.range, in: html)!]).lowercased()
                XCTAssertFalse(tag.contains("javascript:"), tag)
                XCTAssertNil(tag.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "an event handler: \(tag)")
                XCTAssertFalse(tag.hasPrefix("<svg") || tag.hasPrefix("<b ") || tag.hasPrefix("<p on"), tag)
                if tag.hasPrefix("<img") { XCTAssertTrue(tag.hasPrefix("<img src=\"voxel_counts.png\"") || tag.hasPrefix("<img src=\"retinotopy.png\""), tag) }
            }
        }
    }
}
