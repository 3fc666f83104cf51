-- CreateEnum
CREATE TYPE "SearchState" AS ENUM ('QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "CandidateState" AS ENUM ('WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED');

-- CreateEnum
CREATE TYPE "RunState" AS ENUM ('WAITING', 'QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "TaskFailure" AS ENUM ('nan', 'cap');

-- CreateTable
CREATE TABLE "Search" (
    "id" UUID NOT NULL,
    "owner" TEXT NOT NULL,
    "idempotencyKey" TEXT,
    "family" TEXT NOT NULL,
    "space" TEXT[],
    "strategy" JSONB NOT NULL,
    "maxTaskTrainings" BIGINT,
    "protocol" JSONB NOT NULL,
    "definition" JSONB NOT NULL,
    "definitionHash" TEXT NOT NULL,
    "state" "SearchState" NOT NULL DEFAULT 'QUEUED',
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Search_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Candidate" (
    "id" UUID NOT NULL,
    "searchId" UUID NOT NULL,
    "bits" TEXT NOT NULL,
    "keys" TEXT[],
    "role" TEXT NOT NULL,
    "rung" INTEGER NOT NULL DEFAULT 0,
    "state" "CandidateState" NOT NULL DEFAULT 'WAITING',
    "score" DOUBLE PRECISION,
    "scoreLo" DOUBLE PRECISION,
    "scoreHi" DOUBLE PRECISION,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Candidate_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Run" (
    "id" UUID NOT NULL,
    "candidateId" UUID NOT NULL,
    "seedIndex" INTEGER NOT NULL,
    "seed" BIGINT NOT NULL,
    "tasksDone" INTEGER NOT NULL DEFAULT 0,
    "state" "RunState" NOT NULL DEFAULT 'WAITING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "heartbeatAt" TIMESTAMPTZ(3),
    "claimedAt" TIMESTAMPTZ(3),
    "workerId" TEXT,
    "workerHost" TEXT,
    "claimToken" UUID,
    "engine" TEXT,
    "backend" TEXT,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TaskResult" (
    "runId" UUID NOT NULL,
    "taskIndex" INTEGER NOT NULL,
    "iterations" DOUBLE PRECISION NOT NULL,
    "totalIterations" INTEGER NOT NULL,
    "converged" BOOLEAN NOT NULL,
    "failure" "TaskFailure",
    "finalLoss" DOUBLE PRECISION NOT NULL,
    "accuracy" DOUBLE PRECISION NOT NULL,
    "heldOutLoss" DOUBLE PRECISION NOT NULL,
    "firingRate" DOUBLE PRECISION NOT NULL,
    "wallMs" DOUBLE PRECISION NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TaskResult_pkey" PRIMARY KEY ("runId","taskIndex")
);

-- CreateTable
CREATE TABLE "Checkpoint" (
    "runId" UUID NOT NULL,
    "nextTask" INTEGER NOT NULL,
    "bytes" BYTEA NOT NULL,
    "sha256" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Checkpoint_pkey" PRIMARY KEY ("runId")
);

-- CreateTable
CREATE TABLE "FixedConfig" (
    "id" UUID NOT NULL,
    "family" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "bits" TEXT NOT NULL,
    "record" JSONB NOT NULL,
    "hash" TEXT NOT NULL,
    "searchId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "FixedConfig_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "owner" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Search_owner_createdAt_idx" ON "Search"("owner", "createdAt");

-- CreateIndex
CREATE INDEX "Search_state_idx" ON "Search"("state");

-- CreateIndex
CREATE UNIQUE INDEX "Search_owner_idempotencyKey_key" ON "Search"("owner", "idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "Candidate_searchId_bits_key" ON "Candidate"("searchId", "bits");

-- CreateIndex
CREATE INDEX "Run_state_heartbeatAt_idx" ON "Run"("state", "heartbeatAt");

-- CreateIndex
CREATE UNIQUE INDEX "Run_candidateId_seedIndex_key" ON "Run"("candidateId", "seedIndex");

-- CreateIndex
CREATE UNIQUE INDEX "FixedConfig_hash_key" ON "FixedConfig"("hash");

-- CreateIndex
CREATE UNIQUE INDEX "FixedConfig_family_version_key" ON "FixedConfig"("family", "version");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiKey_owner_idx" ON "ApiKey"("owner");

-- AddForeignKey
ALTER TABLE "Candidate" ADD CONSTRAINT "Candidate_searchId_fkey" FOREIGN KEY ("searchId") REFERENCES "Search"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Run" ADD CONSTRAINT "Run_candidateId_fkey" FOREIGN KEY ("candidateId") REFERENCES "Candidate"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TaskResult" ADD CONSTRAINT "TaskResult_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FixedConfig" ADD CONSTRAINT "FixedConfig_searchId_fkey" FOREIGN KEY ("searchId") REFERENCES "Search"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Constraints the Prisma schema cannot express.
ALTER TABLE "Candidate" ADD CONSTRAINT "Candidate_bits_check" CHECK ("bits" ~ '^[01]+$');
ALTER TABLE "Candidate" ADD CONSTRAINT "Candidate_rung_check" CHECK ("rung" >= 0);
ALTER TABLE "Run" ADD CONSTRAINT "Run_seedIndex_check" CHECK ("seedIndex" >= 0);
ALTER TABLE "Run" ADD CONSTRAINT "Run_seed_check" CHECK ("seed" BETWEEN 0 AND 4294967295);
ALTER TABLE "Run" ADD CONSTRAINT "Run_tasksDone_check" CHECK ("tasksDone" >= 0);
ALTER TABLE "TaskResult" ADD CONSTRAINT "TaskResult_taskIndex_check" CHECK ("taskIndex" >= 0);
ALTER TABLE "TaskResult" ADD CONSTRAINT "TaskResult_totalIterations_check" CHECK ("totalIterations" >= 0);
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_nextTask_check" CHECK ("nextTask" >= 0);
ALTER TABLE "Checkpoint" ADD CONSTRAINT "Checkpoint_sha256_check" CHECK ("sha256" ~ '^[0-9a-f]{64}$');
ALTER TABLE "FixedConfig" ADD CONSTRAINT "FixedConfig_version_check" CHECK ("version" >= 1);
ALTER TABLE "FixedConfig" ADD CONSTRAINT "FixedConfig_hash_check" CHECK ("hash" ~ '^[0-9a-f]{64}$');
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_hash_check" CHECK ("hash" ~ '^[0-9a-f]{64}$');

-- Task results and fixed configurations are written once: an update is an error, not an overwrite.
CREATE FUNCTION "ip2_refuse_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER "TaskResult_immutable" BEFORE UPDATE ON "TaskResult" FOR EACH ROW EXECUTE FUNCTION "ip2_refuse_update"();
CREATE TRIGGER "FixedConfig_immutable" BEFORE UPDATE ON "FixedConfig" FOR EACH ROW EXECUTE FUNCTION "ip2_refuse_update"();
