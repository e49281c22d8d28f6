/// The JSON query API's contract (`proto/openapi.yaml`), served as JSON at
/// `GET /api/openapi.json` on the internal HTTP port — never on the public
/// intake. Embedded by `ops/generate-openapi.sh`.
enum OpenAPIDocument {
    /// The path it is served at.
    static let path = "/api/openapi.json"
}
