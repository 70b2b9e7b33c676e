// Integration tests join consumer groups and wait on real brokers: seconds, not milliseconds.
jest.setTimeout(120_000);
