// swift-tools-version:6.1
//
// Stitch: session and identity stitching for end-to-end marketing analytics.
//
// Module map (dependencies point downward only; README "Architecture"):
//
//   stitch (executable)          CLI: serve, query, load, import, export, normalize, inspect, verify
//     ├── StitchServer           collector, writer (group commit), query server, metrics, lifecycle,
//     │                          JSON API (StitchAPI, generated from proto/openapi.yaml), profile explorer;
//     │                          cluster mode: log publisher, appliers, membership, forwarding
//     │                          (uses StitchLog, and StitchClient to forward queries)
//     ├── StitchClient           ingest and query clients (CLI, load generator, tests)
//     ├── StitchLoad             (pure) synthetic worlds with ground truth, scoring
//     └── StitchMapping          graph types <-> protobuf messages, one file per message family
//           ├── StitchGraph      identity graph: union-find, rings, history, guards, call tracking
//           │     └── StitchStore  LMDB environment, transactions, cursors (I/O)
//           └── StitchBeacon     (pure) beacon -> prepared event, normalizer cache, attribution
//                 └── StitchWire (pure) frame codec, zlib, protobuf messages, limits
//   StitchHooks                  (pure) webhook adapters: provider request -> beacons
//   StitchIdentity               (pure) identifier kinds, normalization, junk rules, the
//                                prepared event the graph applies; imported by everything above
//   StitchRandom                 (pure) SplitMix64, the one seeded generator (load worlds, tests)
//   StitchLog                    (I/O) the cluster's replicated log and member list: NATS JetStream via libnats
//   CLMDB, CZlib, CNATS          system libraries (liblmdb-dev, zlib1g-dev, libnats-dev)
//   CScheduling                  sched_setattr(2) and prctl(2): thread priorities and names (no library)
//
// One edge skips a level on purpose: StitchServer and stitch import
// StitchStore, because the graph's API takes StoreOptions and reports
// StoreError and Environment.Info (map size, used bytes) as they are.
//
// "Pure" means: no sockets, no files, no clocks. StitchIdentity imports
// nothing at all; StitchWire imports NIOCore (ByteBuffer and the decoder
// protocols, no system calls), SwiftProtobuf and zlib — never NIOPosix or CLMDB.
// The graph speaks its own types: it depends on StitchStore and StitchIdentity only.
import PackageDescription

let package = Package(
    name: "stitch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stitch", targets: ["stitch"]),
        .executable(name: "stitch-fuzz-frames", targets: ["StitchFuzzFrames"]),
        .library(name: "StitchWire", targets: ["StitchWire"]),
        .library(name: "StitchIdentity", targets: ["StitchIdentity"]),
        .library(name: "StitchStore", targets: ["StitchStore"]),
        .library(name: "StitchGraph", targets: ["StitchGraph"]),
        .library(name: "StitchBeacon", targets: ["StitchBeacon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // Named for its HTTPTypes import in StitchServer (Hummingbird's request types).
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // sched_setattr(2) and prctl(2), which Swift cannot call directly (no library to link).
        .systemLibrary(name: "CScheduling"),
        .systemLibrary(
            name: "CNATS",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // The replicated log of the cluster mode (issue 24): JetStream through libnats.
        .target(name: "StitchLog", dependencies: ["CNATS"]),
        .testTarget(name: "StitchLogTests", dependencies: ["StitchLog", "StitchTesting"]),

        // The JSON query API's types and routing, generated from
        // proto/openapi.yaml by ops/generate-openapi.sh (committed). The
        // server implements its APIProtocol over the query executor
        // (StitchServer/HTTP/QueryAPI.swift).
        .target(
            name: "StitchAPI",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),

        // MARK: Pure modules
        .target(name: "StitchIdentity"),
        .target(name: "StitchRandom"),
        .target(
            name: "StitchWire",
            dependencies: [
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // What a beacon means: preparation for the graph (normalized and
        // derived identifiers, call-tracking facts, the stored body), the one
        // per-site normalizer cache, and read-time attribution.
        .target(
            name: "StitchBeacon",
            dependencies: [
                "StitchWire", "StitchIdentity",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // Webhook adapters (pure): Jivo, Zadarma, Mango Office, amoCRM and a
        // generic deal JSON, each mapping a provider's request to beacons.
        .target(
            name: "StitchHooks",
            dependencies: [
                "StitchWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // MARK: Storage (I/O)
        // The group log's records carry a CRC-32 (zlib).
        .target(name: "StitchStore", dependencies: ["CLMDB", "CZlib"]),
        // The identity graph: union-find, rings, history, guards, call
        // tracking, on the store. It speaks its own types; event bodies are
        // opaque bytes to it.
        // Erased identifiers are kept only as HMAC-SHA256 under a per-store secret (swift-crypto).
        .target(
            name: "StitchGraph",
            dependencies: ["StitchStore", "StitchIdentity", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Graph types to and from protobuf messages: the one place the two meet.
        .target(
            name: "StitchMapping",
            dependencies: ["StitchGraph", "StitchBeacon", "StitchWire", "StitchIdentity"]
        ),

        // MARK: Network (I/O)
        // The service: collector (UDP/TCP), writer with group commit, query
        // server, the internal HTTP port (metrics, the JSON API, the profile
        // explorer), lifecycle.
        .target(
            name: "StitchServer",
            dependencies: [
                "StitchGraph", "StitchStore", "StitchIdentity", "StitchWire", "StitchBeacon", "StitchMapping",
                "StitchHooks", "StitchLog", "StitchClient", "StitchAPI", "CScheduling",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Clients of the two protocols: ingest (TCP with acks, UDP) and query.
        // Used by the CLI, the load generator and the integration tests.
        .target(
            name: "StitchClient",
            dependencies: [
                "StitchWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // The load harness's traffic: seeded synthetic worlds with ground
        // truth and the scoring of a server's stitching against it (pure).
        // Uses StitchBeacon's EventPreparer to derive identifiers as the writer does.
        .target(name: "StitchLoad", dependencies: ["StitchWire", "StitchIdentity", "StitchBeacon", "StitchRandom"]),

        // Helpers for tests of every module: seeded randomness (the load
        // harness's generator, with the seed printed), temporary directories.
        .target(name: "StitchTesting", dependencies: ["StitchRandom"]),

        // MARK: Executables
        .executableTarget(
            name: "stitch",
            dependencies: [
                "StitchGraph",
                "StitchStore",
                "StitchIdentity",
                "StitchWire",
                "StitchMapping",
                "StitchServer",
                "StitchClient",
                "StitchLoad",
                "StitchRandom",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // libFuzzer entry point for the frame decoder; see ops/fuzz-frames.sh.
        // Without -DFUZZING it builds as a replayer that runs saved inputs.
        .executableTarget(
            name: "StitchFuzzFrames",
            dependencies: [
                "StitchWire",
                "StitchIdentity",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "StitchIdentityTests", dependencies: ["StitchIdentity", "StitchTesting"]),
        .testTarget(
            name: "StitchWireTests",
            dependencies: [
                "StitchWire",
                "StitchTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "StitchHooksTests",
            dependencies: ["StitchHooks", "StitchWire", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Payloads")]
        ),
        .testTarget(name: "StitchStoreTests", dependencies: ["StitchStore", "StitchTesting", "StitchRandom"]),
        .testTarget(name: "StitchBeaconTests", dependencies: ["StitchBeacon", "StitchIdentity", "StitchWire"]),
        .testTarget(
            name: "StitchMappingTests", dependencies: ["StitchMapping", "StitchGraph", "StitchIdentity", "StitchWire", "StitchRandom"]),
        .testTarget(
            name: "StitchClientTests",
            dependencies: [
                "StitchClient", "StitchWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StitchGraphTests",
            // StitchBeacon prepares the beacons the tests apply; StitchMapping
            // turns histories into the wire events attribution annotates.
            dependencies: [
                "StitchGraph", "StitchStore", "StitchIdentity", "StitchWire", "StitchBeacon", "StitchMapping",
                "StitchTesting",
            ],
            // Stores written by earlier schemas, opened by the migration tests.
            exclude: ["Fixtures"]
        ),

        .testTarget(
            name: "StitchServerTests",
            dependencies: [
                "StitchServer", "StitchClient", "StitchGraph", "StitchWire", "StitchIdentity", "StitchBeacon",
                "StitchMapping", "StitchHooks", "StitchTesting", "StitchRandom", "StitchAPI", "StitchLoad",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "StitchLoadTests", dependencies: ["StitchLoad", "StitchWire", "StitchBeacon", "StitchRandom", "StitchTesting"]),
        .testTarget(
            name: "StitchCLITests",
            dependencies: [
                "stitch", "StitchIdentity", "StitchWire", "StitchGraph", "StitchStore", "StitchTesting", "StitchClient",
                "StitchBeacon", "StitchMapping",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
