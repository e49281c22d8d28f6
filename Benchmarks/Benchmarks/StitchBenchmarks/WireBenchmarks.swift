import Benchmark
import NIOCore
import StitchWire

/// Beacons per batch in the "typical batch" benchmarks: what a tracker sends
/// after buffering a few seconds of a busy page.
let typicalBatchBeacons = 50

/// A realistic mix: mostly hits, some visits, a few forms and number shows.
func typicalBatch() -> Stitch_V1_BeaconBatch {
    .with { batch in
        batch.beacons = (0..<typicalBatchBeacons).map { index in
            let cookie = "c7Hq2x9Lm\(1000 + index % 7)"
            return Stitch_V1_Beacon.with {
                $0.site = 101
                $0.timeMs = 1_767_225_600_000 + Int64(index) * 1_500
                $0.eventID = UInt64(index + 1)
                $0.identifiers = [
                    .with { $0.kind = .cookie; $0.value = cookie },
                    .with { $0.kind = .session; $0.value = cookie + ".3" },
                    .with { $0.kind = .gaClientID; $0.value = "GA1.2.\(1_234_567_000 + index % 7).1700000000" },
                ]
                switch index % 10 {
                case 0:
                    $0.visit = .with {
                        $0.utmSource = "yandex"; $0.utmMedium = "cpc"; $0.utmCampaign = "brand-moscow-\(index % 3)"
                        $0.referrer = "https://yandex.ru/search/?text=sofa"
                        $0.landingURL = "https://shop.example/sofas/?utm_source=yandex&utm_medium=cpc&yclid=88\(index)"
                        $0.yclid = "88\(index)"; $0.device = .mobile
                    }
                case 1: $0.numberShown = .with { $0.trackingNumber = "+7495000001\(index % 10)" }
                case 2: $0.form = .with { $0.formID = "callback"; $0.phone = "8 (916) 123-45-\(10 + index)" }
                default: $0.hit = .with { $0.type = .pageview; $0.url = "https://shop.example/catalog/item-\(index)" }
                }
            }
        }
    }
}

func encodedTypicalBatch(compressed: Bool) -> ByteBuffer {
    var buffer = ByteBuffer()
    try! FrameEncoder().encode(typicalBatch(), type: .batch, sequence: 1, compressed: compressed, into: &buffer)
    return buffer
}

func wireBenchmarks() {
    for compressed in [true, false] {
        let frameBytes = encodedTypicalBatch(compressed: compressed)
        let name = "Wire: decode+\(compressed ? "inflate" : "no compression") \(typicalBatchBeacons)-beacon batch "
            + "(\(frameBytes.readableBytes) B)"
        Benchmark(name) { benchmark in
            let decoder = BatchDecoder()
            for _ in benchmark.scaledIterations {
                var buffer = frameBytes
                var frameDecoder = FrameDecoder()
                let frame = try frameDecoder.decode(buffer: &buffer)!
                let batch = try decoder.decode(frame, receivedMs: 1_767_225_605_000)
                precondition(batch.beacons.count == typicalBatchBeacons)
                blackHole(batch)
            }
        }
    }

    let batch = typicalBatch()
    Benchmark("Wire: encode+deflate \(typicalBatchBeacons)-beacon batch") { benchmark in
        let encoder = FrameEncoder()
        var buffer = ByteBuffer()
        buffer.reserveCapacity(64 * 1024)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            try encoder.encode(batch, type: .batch, sequence: 1, compressed: true, into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }
}
