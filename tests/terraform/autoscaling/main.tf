# What a typical ECS module declares beside its service, pointed at ecsemu: a log group (with a
# metric filter and a metric-math alarm on its metric), SSM parameters, a secret with a resource
# policy, a work queue with its dead-letter queue, a task definition logging through awslogs and
# reading secrets from SSM and Secrets Manager, and the service's auto scaling (scalable target,
# target tracking and step policies, a CloudWatch alarm invoking the step policy, a scheduled
# action). tests/integration/test_terraform_autoscaling.py applies it, plans (expecting no
# changes), changes the variables below, applies and plans again, then destroys it.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }
variable "cpu_target" {
  type    = number
  default = 50
}
variable "log_retention_days" {
  type    = number
  default = 7
}
variable "max_capacity" {
  type    = number
  default = 4
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    applicationautoscaling = var.endpoint
    cloudwatch             = var.endpoint
    ecs                    = var.endpoint
    elbv2                  = var.endpoint
    logs                   = var.endpoint
    secretsmanager         = var.endpoint
    sqs                    = var.endpoint
    ssm                    = var.endpoint
  }
}

locals {
  account_id = "123456789012"
  tags       = { team = "workers", env = "test" }
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/ecs/tf-worker"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_metric_filter" "errors" {
  name           = "tf-worker-errors"
  pattern        = "ERROR"
  log_group_name = aws_cloudwatch_log_group.worker.name
  metric_transformation {
    name          = "ErrorCount"
    namespace     = "TfWorker"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "tf-worker-error-rate"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  threshold           = 5
  treat_missing_data  = "missing"
  metric_query {
    id          = "rate"
    expression  = "errors / IF(jobs > 0, jobs, 1) * 100"
    label       = "Error rate"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].namespace
      metric_name = aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].name
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "jobs"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "NumberOfMessagesDeleted"
      dimensions  = { QueueName = aws_sqs_queue.jobs.name }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_ssm_parameter" "mode" {
  name  = "/tf-worker/mode"
  type  = "String"
  value = "batch"
  tags  = local.tags
}

resource "aws_ssm_parameter" "db_password" {
  name        = "/tf-worker/db-password"
  description = "database password"
  type        = "SecureString"
  value       = "s3cr3t-pa55"
}

resource "aws_secretsmanager_secret" "api_key" {
  name                    = "tf-worker/api-key"
  description             = "third-party API key"
  recovery_window_in_days = 0
  tags                    = local.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${local.account_id}:role/ecsTaskExecutionRole" }
      Action    = "secretsmanager:GetSecretValue"
      Resource  = "*"
    }]
  })
}

resource "aws_secretsmanager_secret_version" "api_key" {
  secret_id     = aws_secretsmanager_secret.api_key.id
  secret_string = jsonencode({ key = "abc123", region = "us-east-1" })
}

resource "aws_sqs_queue" "dead_letters" {
  name                      = "tf-worker-dlq"
  message_retention_seconds = 1209600
  tags                      = local.tags
}

resource "aws_sqs_queue" "jobs" {
  name                       = "tf-worker-jobs"
  visibility_timeout_seconds = 60
  receive_wait_time_seconds  = 10
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = 5
  })
  tags = local.tags
}

resource "aws_ecs_cluster" "main" {
  name = "tf-workers"
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "tf-worker"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = "arn:aws:iam::${local.account_id}:role/ecsTaskExecutionRole"
  container_definitions = jsonencode([{
    name      = "worker"
    image     = "busybox:latest"
    essential = true
    command   = ["sh", "-c", "while true; do sleep 1; done"]
    environment = [
      { name = "QUEUE_URL", value = aws_sqs_queue.jobs.url },
    ]
    secrets = [
      { name = "MODE", valueFrom = aws_ssm_parameter.mode.arn },
      { name = "DB_PASSWORD", valueFrom = aws_ssm_parameter.db_password.arn },
      { name = "API_KEY", valueFrom = "${aws_secretsmanager_secret.api_key.arn}:key::" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.worker.name
        "awslogs-region"        = "us-east-1"
        "awslogs-stream-prefix" = "worker"
      }
    }
  }])
}

resource "aws_ecs_service" "worker" {
  name            = "worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.worker.arn
  desired_count   = 1
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = ["subnet-0a1"]
    assign_public_ip = false
  }
  lifecycle {
    ignore_changes = [desired_count]
  }
  depends_on = [aws_secretsmanager_secret_version.api_key]
}

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 1
  max_capacity       = var.max_capacity
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "tf-worker-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "queue_depth" {
  name               = "tf-worker-queue-depth"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Average"
    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 100
      scaling_adjustment          = 1
    }
    step_adjustment {
      metric_interval_lower_bound = 100
      scaling_adjustment          = 2
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  alarm_name          = "tf-worker-queue-depth"
  alarm_description   = "jobs are waiting"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.jobs.name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 10
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.queue_depth.arn]
  tags                = local.tags
}

resource "aws_appautoscaling_scheduled_action" "night" {
  name               = "tf-worker-night"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  schedule           = "cron(0 22 * * ? *)"
  timezone           = "Europe/Paris"
  scalable_target_action {
    min_capacity = 1
    max_capacity = 2
  }
}

output "queue_url" { value = aws_sqs_queue.jobs.url }
output "dlq_arn" { value = aws_sqs_queue.dead_letters.arn }
output "secret_arn" { value = aws_secretsmanager_secret.api_key.arn }
output "cpu_policy_alarms" { value = jsonencode(aws_appautoscaling_policy.cpu.alarm_arns) }
