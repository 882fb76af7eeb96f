# An ECS service behind an Application Load Balancer, as a Terraform user writes it, pointed at
# ecsemu. tests/integration/test_terraform.py applies it, updates the image, plans (expecting no
# changes) and destroys it.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }
variable "image" { type = string }
variable "listener_port" { type = number }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    ecs   = var.endpoint
    elbv2 = var.endpoint
  }
}

resource "aws_ecs_cluster" "main" {
  name = "tf-demo"
  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 1
  }
}

resource "aws_ecs_task_definition" "web" {
  family                   = "tf-web"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = "256"
  memory                   = "512"
  container_definitions = jsonencode([{
    name         = "web"
    image        = var.image
    essential    = true
    stopTimeout  = 5
    portMappings = [{ containerPort = 8080, protocol = "tcp" }]
  }])
}

resource "aws_lb" "web" {
  name               = "tf-web"
  load_balancer_type = "application"
  internal           = false
  subnets            = ["subnet-0a1", "subnet-0b2"]
}

resource "aws_lb_target_group" "web" {
  name                 = "tf-web"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_lb.web.vpc_id
  deregistration_delay = 5
  health_check {
    path                = "/health"
    interval            = 5
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200"
  }
}

resource "aws_lb_listener" "web" {
  load_balancer_arn = aws_lb.web.arn
  port              = var.listener_port
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
  tags = { team = "web" }
}

resource "aws_lb_listener_rule" "health" {
  listener_arn = aws_lb_listener.web.arn
  priority     = 10
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "alb ok"
      status_code  = "200"
    }
  }
  condition {
    path_pattern { values = ["/alb-health"] }
  }
}

resource "aws_ecs_service" "web" {
  name                              = "web"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.web.arn
  desired_count                     = 2
  health_check_grace_period_seconds = 0
  wait_for_steady_state             = true

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 1
  }
  network_configuration {
    subnets          = ["subnet-0a1"]
    assign_public_ip = false
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 8080
  }
  depends_on = [aws_lb_listener.web, aws_ecs_cluster_capacity_providers.main]
}

output "listener_arn" { value = aws_lb_listener.web.arn }
output "target_group_arn" { value = aws_lb_target_group.web.arn }
