// swift-tools-version: 6.0
// A separate package that adds an encoder kind to BERG and runs it through the facade, using
// only `import BERG`. `make test` builds and runs it (Makefile target `test-external-kind`).
import PackageDescription

let package = Package(
    name: "ExternalKind",
    dependencies: [.package(name: "BERG", path: "../..")],
    targets: [
        .target(name: "ExternalKind", dependencies: [.product(name: "BERG", package: "BERG")]),
        .executableTarget(name: "external-kind-check", dependencies: ["ExternalKind", .product(name: "BERG", package: "BERG")]),
    ]
)
