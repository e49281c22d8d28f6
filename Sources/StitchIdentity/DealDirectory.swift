/// Where each CRM deal's contact is remembered. A CRM's status change often
/// names the deal only (amoCRM's status webhook carries the lead, not its
/// contact), yet a won deal must reach the person it was made for: the graph
/// remembers the contact a deal was last seen with, and a later event of the
/// same deal without a contact is given that one.
public protocol DealDirectory: Sendable {
    /// The contact (a `crm_contact` identifier) deal `dealKey` of `site` was
    /// last seen with, or nil when the deal is not known.
    ///
    /// - Parameter dealKey: `PreparedEvent.dealKey`: `crm:deal_id`, normalized
    ///   as a `crm_contact` value is.
    func dealContact(site: UInt32, dealKey: String) -> NormalizedIdentifier?
}
