import { dialAddress } from './dial-address';

describe('dialAddress', () => {
  it('reaches a wildcard bind on loopback', () => {
    expect(dialAddress('0.0.0.0')).toBe('127.0.0.1');
    expect(dialAddress('::')).toBe('[::1]');
  });
  it('dials a specific address as it is, IPv6 bracketed for a URL', () => {
    expect(dialAddress('127.0.0.2')).toBe('127.0.0.2');
    expect(dialAddress('fd00::2')).toBe('[fd00::2]');
  });
});
