// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// oneDNN, the faster GEMM on CPUs with AVX-512 (Debian's libdnnl-dev ships no pkg-config file,
/// so its header decides). Without it, or with BERG_ONEDNN=0 at build time, every GEMM runs on
/// OpenBLAS. Tools/install-deps.sh installs it.
let oneDNN = ProcessInfo.processInfo.environment["BERG_ONEDNN"] != "0"
    && ["/usr/include", "/usr/local/include"].contains { FileManager.default.fileExists(atPath: $0 + "/oneapi/dnnl/dnnl.h") }

let package = Package(
    name: "BERG",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "BERG", targets: ["BERG"]),
        .executable(name: "berg", targets: ["berg"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Tools/install-deps.sh installs them).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // FFmpeg's libavformat, libavcodec, libswscale and libavutil (movie frames).
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),

        .target(name: "BERGCore"),
        // Element-wise kernels built for AVX-512, AVX2 and the baseline, picked per call.
        .target(name: "CKernels"),
        .target(name: "BERGCompute", dependencies: ["BERGCore", "CBLAS", "CKernels"] + (oneDNN ? ["CDNNL"] : [])),
        .target(name: "BERGFormats", dependencies: ["BERGCore", "BERGCompute", "CHDF5", "CArchive", "CTurboJPEG", "CPNG", "CZlib", "CFFmpeg"]),
        .target(name: "BERGRegistry", dependencies: ["BERGCore", "Yams"]),
        .target(name: "BERGStore", dependencies: [
            "BERGCore", "BERGRegistry", "CCurl", "CArchive",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "BERGPlot", dependencies: ["BERGCore", "BERGFormats"]),
        .target(name: "BERGModels", dependencies: ["BERGCore", "BERGCompute", "BERGFormats", "BERGRegistry"]),
        .target(name: "BERGAnalysis", dependencies: ["BERGCore", "BERGCompute", "BERGFormats", "CBLAS"]),
        // The catalogue's HTML pages: Mustache templates, and Ink for the cards' Markdown.
        .target(name: "BERGSite", dependencies: [
            .product(name: "Mustache", package: "swift-mustache"), .product(name: "Ink", package: "Ink"),
        ]),
        .target(name: "BERG", dependencies: [
            "BERGCore", "BERGCompute", "BERGFormats", "BERGRegistry", "BERGStore", "BERGModels", "BERGPlot", "BERGAnalysis", "BERGSite",
            .product(name: "SwiftCSV", package: "SwiftCSV"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "berg", dependencies: [
            "BERG", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "BERGCoreTests", dependencies: ["BERGCore"]),
        .testTarget(name: "BERGComputeTests", dependencies: ["BERGCompute", "BERGFormats"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BERGFormatsTests", dependencies: ["BERGFormats", "BERGTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BERGPlotTests", dependencies: ["BERGPlot", "BERGFormats"]),
        .testTarget(name: "BERGRegistryTests", dependencies: ["BERGRegistry"]),
        .testTarget(name: "BERGStoreTests", dependencies: ["BERGStore", "BERGTestSupport"]),
        // Comparison helpers, fixture folders and a misbehaving loopback HTTP server shared by the test targets.
        .target(name: "BERGTestSupport", dependencies: ["BERGCore"], path: "Tests/BERGTestSupport"),
        .testTarget(name: "BERGModelsTests", dependencies: ["BERGModels", "BERG", "BERGFormats", "BERGStore", "BERGTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BERGAnalysisTests", dependencies: ["BERGAnalysis", "BERGFormats", "BERGTestSupport"],
                    resources: [.copy("Fixtures")]),
        // Tests that fetch from PyPI (the img2fmri wheel): `make test-network`, not `make test`.
        .testTarget(name: "BERGNetworkTests", dependencies: ["BERG", "BERGModels", "BERGFormats", "BERGRegistry", "BERGStore", "BERGTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BERGTests", dependencies: ["BERG", "BERGFormats", "BERGModels", "BERGRegistry", "BERGStore", "BERGPlot"]),
        // Depends on the executable so that `swift test` builds it first: the CLI tests run it.
        .testTarget(name: "bergCLITests", dependencies: ["berg", "BERG", "BERGFormats", "BERGStore", "BERGRegistry", "BERGTestSupport"]),
    ]
)
