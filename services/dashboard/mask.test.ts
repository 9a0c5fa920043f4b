import { maskIdTagsInJson } from './model';

/** Id tags in OCPP payload text, as the dashboard's traffic list carries it (whole or cut at 240 characters). */
test.each([
  ['{"connectorId":1,"idTag":"TAG1","meterStart":1000}', '{"connectorId":1,"idTag":"***","meterStart":1000}'],
  ['{"idTag":"TA\\"G1","x":1}', '{"idTag":"***","x":1}'],
  ['{"idToken":{"idToken":"ABC123","type":"ISO14443"},"groupIdToken":{"idToken":"G1","type":"Central"}}', '{"idToken":{"idToken":"***","type":"ISO14443"},"groupIdToken":{"idToken":"***","type":"Central"}}'],
  ['{"idTagInfo":{"status":"Accepted","parentIdTag":"P1"}}', '{"idTagInfo":{"status":"Accepted","parentIdTag":"***"}}'],
  ['{"connectorId":1,"idTag":"TAG12345', '{"connectorId":1,"idTag":"***'],
  ['{"status":"Available"}', '{"status":"Available"}'],
])('%s', (input, masked) => expect(maskIdTagsInJson(input)).toBe(masked));
