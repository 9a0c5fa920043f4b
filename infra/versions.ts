/** Versions of the local stack's parts, fetched from Maven Central (see infra/fetch.ts). */
export const KAFKA_VERSION = '4.1.1';
export const APICURIO_VERSION = '3.3.3';
