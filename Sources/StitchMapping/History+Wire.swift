import Foundation
import StitchBeacon
import StitchGraph
import StitchWire

extension Stitch_V1_HistoryResponse {
    /// The wire form of a history page; with `conversions`, its conversions
    /// are annotated from the page's context (read-time attribution).
    public init(_ page: HistoryPage, conversions: ConversionOptions?) {
        self.init()
        personID = page.personID
        events = page.events.map(Stitch_V1_Event.init)
        if let conversions, !page.context.isEmpty {
            Attribution.annotate(&events, context: page.context.map(Stitch_V1_Event.init), options: conversions)
        }
        if let next = page.next { nextCursor = Data(next.bytes) }
    }
}
