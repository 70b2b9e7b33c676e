import { isJunk } from './junk';

describe('isJunk', () => {
  it.each(['test@test.com', '0000000000', '+11111111111', 'null', 'Anonymous', 'noreply@brand.com', 'x@example.com', 'N/A'])('rejects %s', (v) => {
    expect(isJunk(v)).toBe(true);
  });
  it.each(['ann@brand.co.uk', '+447700900123', 'v-8f3a2c', 'loyalty-123456'])('keeps %s', (v) => {
    expect(isJunk(v)).toBe(false);
  });
});
