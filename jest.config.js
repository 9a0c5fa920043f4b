/** Unit tests sit beside their modules; integration tests under test/ run against the real stack
 *  (Kafka + schema registry started by test/global-setup.ts when not already running). */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  testEnvironment: 'node',
  transform,
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testMatch: ['<rootDir>/{services,schemas,streams,infra,test}/**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/.voltstream', '<rootDir>/infra/.cache', '<rootDir>/dist'],
};
