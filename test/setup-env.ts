// Integration tests talk to a shared broker; kafkajs's own retry chatter would drown the test output.
process.env.KAFKAJS_LOG_LEVEL ??= 'nothing';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
// The test stack is a development stack (anonymous local listener, generated keys); production mode is tested explicitly.
process.env.VOLTSTREAM_MODE ??= 'development';
