import Benchmark
import StitchIdentity

/// Values per iteration in the normalization benchmarks.
let normalizationBatch = 1_000

/// Raw values as clients send them: the identifier mix of a typical beacon
/// stream (cookies, sessions and client ids dominate; phones and e-mails come
/// from forms), with separators, case and junk as real input has.
func rawIdentifierMix() -> [(IdentifierKind, String)] {
    (0..<normalizationBatch).map { index in
        switch index % 10 {
        case 0, 1, 2: (.cookie, "c7Hq2x9LmP\(100_000 + index)")
        case 3, 4: (.session, "c7Hq2x9LmP\(100_000 + index).\(index % 9)")
        case 5: (.gaClientID, "GA1.2.\(1_234_560_000 + index).1700000000")
        case 6: (.ymClientID, "17000000001234\(10_000 + index)")
        case 7: (.phone, "8 (916) \(100 + index % 900)-45-\(10 + index % 90)")
        case 8: (.email, "  Ivan.Petrov\(index)@Mail.RU ")
        default: (.cookie, index % 20 == 9 ? "undefined" : "\"null\"")
        }
    }
}

func identityBenchmarks() {
    let mix = rawIdentifierMix()
    Benchmark("Identity: normalize \(normalizationBatch) mixed values") { benchmark in
        let normalizer = IdentifierNormalizer()
        for _ in benchmark.scaledIterations {
            for (kind, raw) in mix {
                blackHole(try? normalizer.normalize(kind, raw))
            }
        }
    }

    let perKind: [(String, IdentifierKind, [String])] = [
        ("phones", .phone, (0..<normalizationBatch).map { "8 (916) \(100 + $0 % 900)-45-\(10 + $0 % 90)" }),
        ("e-mails", .email, (0..<normalizationBatch).map { " Ivan.Petrov\($0)@Mail.RU" }),
        ("GA client ids", .gaClientID, (0..<normalizationBatch).map { "GA1.2.\(1_234_560_000 + $0).1700000000" }),
        ("cookies", .cookie, (0..<normalizationBatch).map { "c7Hq2x9LmP\(100_000 + $0)" }),
    ]
    for (name, kind, values) in perKind {
        Benchmark("Identity: normalize \(normalizationBatch) \(name)") { benchmark in
            let normalizer = IdentifierNormalizer()
            for _ in benchmark.scaledIterations {
                for raw in values {
                    blackHole(try? normalizer.normalize(kind, raw))
                }
            }
        }
    }
}
