import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APICURIO_VERSION, KAFKA_VERSION } from './versions';

/** Downloads (once, into the git-ignored infra/.cache) what the local stack runs: the Kafka broker's jars and the
 *  Apicurio Registry fast-jar assembly, both from Maven Central through the machine's Maven. */
export const cacheDir = path.join(__dirname, '.cache');
export const kafkaLibDir = path.join(cacheDir, `kafka-${KAFKA_VERSION}`, 'libs');
export const apicurioDir = path.join(cacheDir, `apicurio-${APICURIO_VERSION}`);

const mvn = (args: string[], log: (s: string) => void): void => {
  log(`  mvn ${args.join(' ')}`);
  try {
    execFileSync('mvn', ['-B', '-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`Maven failed (is mvn installed and Maven Central reachable?): ${err.stdout ?? ''}${err.stderr ?? ''}${err.message}`.slice(0, 4000));
  }
};

export const kafkaReady = (): boolean => fs.existsSync(path.join(kafkaLibDir, `kafka_2.13-${KAFKA_VERSION}.jar`));
export const apicurioReady = (): boolean => fs.existsSync(path.join(apicurioDir, 'quarkus-run.jar'));

export const fetchKafka = (log: (s: string) => void = console.log): void => {
  if (kafkaReady()) return;
  log(`Fetching Apache Kafka ${KAFKA_VERSION} broker jars from Maven Central...`);
  const tmp = `${kafkaLibDir}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  mvn(['-f', path.join(__dirname, 'kafka', 'pom.xml'), `-Dkafka.version=${KAFKA_VERSION}`, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime'], log);
  fs.rmSync(kafkaLibDir, { recursive: true, force: true });
  fs.renameSync(tmp, kafkaLibDir);
  log(`  ${fs.readdirSync(kafkaLibDir).length} jars in ${kafkaLibDir}\n`);
};

export const fetchApicurio = (log: (s: string) => void = console.log): void => {
  if (apicurioReady()) return;
  log(`Fetching Apicurio Registry ${APICURIO_VERSION} from Maven Central (about 160 MB)...`);
  const dl = path.join(cacheDir, 'downloads');
  fs.mkdirSync(dl, { recursive: true });
  mvn(['-f', path.join(__dirname, 'kafka', 'pom.xml'), 'dependency:copy', `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`, `-DoutputDirectory=${dl}`, '-Dmdep.overWriteReleases=false'], log);
  const archive = path.join(dl, `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  const tmp = `${apicurioDir}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['xzf', archive, '-C', tmp]);
  fs.rmSync(apicurioDir, { recursive: true, force: true });
  fs.renameSync(tmp, apicurioDir);
  fs.rmSync(archive, { force: true });
  log(`  unpacked into ${apicurioDir}`);
};

export const fetchAll = (log: (s: string) => void = console.log): void => {
  fetchKafka(log);
  fetchApicurio(log);
};
