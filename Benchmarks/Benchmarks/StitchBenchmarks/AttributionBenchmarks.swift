import Benchmark
import StitchBeacon
import StitchWire

/// What a history page with conversions costs at read time: sources and
/// channels are classified from each visit's referrer, landing URL and tags
/// (`SourceClassifier`) whenever a page is read, never stored.
func attributionBenchmarks() {
    let day: Int64 = 86_400_000, t0: Int64 = 1_780_000_000_000
    let referrers = [
        "https://www.google.com/", "https://yandex.ru/search/?text=sofa", "https://vk.com/wall-1",
        "https://3ds.sberbank.ru/acs", "https://news.example/a/1", "", "https://t.me/shop",
    ]
    // A page of 100 events: 30 visits from mixed sources over 29 days, 70 hits and conversions.
    var context: [Stitch_V1_Event] = []
    for index in 0..<100 {
        let time = t0 + Int64(index) * day * 29 / 100
        context.append(.with {
            $0.seq = UInt64(index + 1)
            $0.beacon.timeMs = time
            if index % 10 < 3 {
                $0.beacon.visit = .with {
                    $0.referrer = referrers[index % referrers.count]
                    $0.landingURL = "https://shop.example/catalog/\(index)" + (index % 7 == 0 ? "?yclid=\(index)" : "")
                    if index % 9 == 0 { $0.utmSource = "Yandex"; $0.utmMedium = "CPC"; $0.utmCampaign = "brand" }
                }
            } else if index % 10 == 9 {
                $0.beacon.form = .with { $0.phone = "+7916000\(1000 + index)" }
            } else {
                $0.beacon.hit = .with { $0.url = "https://shop.example/p/\(index)" }
            }
        })
    }
    for model in [Stitch_V1_AttributionModel.lastNonDirect, .linear] {
        Benchmark("Attribution: a 100-event history page (30 visits, 10 forms), \(model)") { benchmark in
            let options = ConversionOptions(model: model)
            for _ in benchmark.scaledIterations {
                var page = context
                Attribution.annotate(&page, context: context, options: options)
                blackHole(page)
            }
        }
    }
}
